//! API Gateway HTTP API (payload 2.0) ⇄ the api's own request and response.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue, header};

use crate::http::{Request, Response, SignIn};

/// What CloudFront adds to every request it forwards to the api (the template's
/// `OriginCustomHeaders`; API Gateway hands headers over in lower case).
pub const ORIGIN_HEADER: &str = "x-origin-verify";

pub fn request(event: ApiGatewayV2httpRequest) -> Request {
    let body = event
        .body
        .map(|b| if event.is_base64_encoded { aws_smithy_types::base64::decode(&b).unwrap_or_default() } else { b.into_bytes() });
    let query = event.raw_query_string.as_deref().map(form_pairs).unwrap_or_default();
    // Only the authorizer's verified claims count; a `sub` in a header or the body never does.
    let claims = event.request_context.authorizer.and_then(|a| a.jwt).map(|jwt| jwt.claims).unwrap_or_default();
    let subject = claims.get("sub").cloned();
    let sign_in = match (claims.get("iss"), claims.get("username")) {
        (Some(issuer), Some(username)) => Some(SignIn { issuer: issuer.clone(), username: username.clone() }),
        _ => None,
    };
    let origin_verify = event.headers.get(ORIGIN_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    Request {
        origin_verify,
        method: event.request_context.http.method.as_str().to_string(),
        path: event.raw_path.unwrap_or_else(|| event.request_context.http.path.unwrap_or_default()),
        query,
        body,
        subject,
        sign_in,
    }
}

pub fn response(response: Response) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(response.content_type));
    // Answers are per user and change with every upload.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(response.status);
    out.headers = headers;
    out.body = Some(Body::Text(response.body));
    out
}

/// `a=1&b=x%20y` → pairs, `+` as space, as browsers encode query strings.
pub fn form_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real HTTP API payload (trimmed), as API Gateway sends it after the JWT authorizer.
    const EVENT: &str = r#"{
      "version": "2.0", "routeKey": "PUT /api/profile", "rawPath": "/api/profile",
      "rawQueryString": "sort=smallest&cursor=ab%2Bc&x=a+b", "headers": {"content-type": "application/json", "x-origin-verify": "from-the-edge"},
      "requestContext": {
        "accountId": "123456789012", "apiId": "api", "domainName": "x", "domainPrefix": "x",
        "http": {"method": "PUT", "path": "/api/profile", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "t"},
        "requestId": "r", "routeKey": "PUT /api/profile", "stage": "$default", "time": "01/Dec/2026:10:00:00 +0000", "timeEpoch": 1,
        "authorizer": {"jwt": {"claims": {"sub": "user-1", "iss": "https://issuer", "username": "user-1"}, "scopes": null}}
      },
      "body": "eyJiaW8iOiIifQ==", "isBase64Encoded": true
    }"#;

    #[test]
    fn the_payload_becomes_a_request() {
        let event: ApiGatewayV2httpRequest = serde_json::from_str(EVENT).unwrap();
        let r = request(event);
        assert_eq!((r.method.as_str(), r.path.as_str(), r.subject.as_deref()), ("PUT", "/api/profile", Some("user-1")));
        assert_eq!(r.sign_in, Some(SignIn { issuer: "https://issuer".into(), username: "user-1".into() }));
        assert_eq!(r.origin_verify.as_deref(), Some("from-the-edge"));
        assert_eq!(r.body.as_deref(), Some(br#"{"bio":""}"#.as_slice()));
        assert_eq!(r.query("cursor"), Some("ab+c"));
        assert_eq!(r.query("x"), Some("a b"));
        let unsigned: ApiGatewayV2httpRequest = serde_json::from_str(&EVENT.replace(
            r#""authorizer": {"jwt": {"claims": {"sub": "user-1", "iss": "https://issuer", "username": "user-1"}, "scopes": null}}"#,
            r#""authorizer": null"#,
        ))
        .unwrap();
        assert_eq!(request(unsigned).subject, None);
    }

    #[test]
    fn responses_are_json_and_never_cached() {
        let out = response(Response { status: 404, content_type: "application/json", body: "{}".into() });
        let v = serde_json::to_value(&out).unwrap();
        assert_eq!(v["statusCode"], 404);
        assert_eq!(v["headers"]["cache-control"], "no-store");
        assert_eq!(v["body"], "{}");
    }
}
