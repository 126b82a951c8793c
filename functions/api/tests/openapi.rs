//! The OpenAPI document and the code describe the same api: same routes, same auth, and the
//! checker the emulator tests use catches a departure.

mod support;

use api::ROUTES;
use serde_json::json;

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let doc = support::doc();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            documented.push((method.to_uppercase(), path.clone()));
            let route = ROUTES.iter().find(|r| r.method.eq_ignore_ascii_case(method) && r.path == path);
            let route = route.unwrap_or_else(|| panic!("openapi.json documents {method} {path}, which the api does not route"));
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            assert_eq!(secured, route.signed_in, "{method} {path}: security in openapi.json vs ROUTES");
            if route.signed_in {
                assert!(op["responses"]["401"].is_object(), "{method} {path} needs a documented 401");
            }
        }
    }
    for r in ROUTES {
        assert!(
            documented.contains(&(r.method.to_string(), r.path.to_string())),
            "{} {} is not in openapi.json",
            r.method,
            r.path
        );
    }
}

#[test]
fn the_checker_catches_departures() {
    let doc = support::doc();
    let schema = support::response_schema(&doc, "GET", "/api/profile", 200);
    let good = json!({ "user": "u", "display_name": "", "bio": "", "avatar_url": null, "avatar_version": null });
    let mut out = Vec::new();
    support::violations(&doc, &schema, &good, "$", &mut out);
    assert!(out.is_empty(), "{out:?}");
    for (bad, expected) in [
        (json!({ "user": "u", "display_name": "", "bio": "", "avatar_url": null }), "missing avatar_version"),
        (json!({ "user": 1, "display_name": "", "bio": "", "avatar_url": null, "avatar_version": null }), "$.user: integer"),
        (
            json!({ "user": "u", "display_name": "", "bio": "", "avatar_url": null, "avatar_version": null, "x": 1 }),
            "undocumented property x",
        ),
    ] {
        let mut out = Vec::new();
        support::violations(&doc, &schema, &bad, "$", &mut out);
        assert!(out.iter().any(|e| e.contains(expected)), "{bad}: {out:?}");
    }
    let error = support::response_schema(&doc, "POST", "/api/uploads", 400);
    let mut out = Vec::new();
    support::violations(&doc, &error, &json!({ "error": { "code": "nope", "message": "m" } }), "$", &mut out);
    assert!(out.iter().any(|e| e.contains("not in")), "{out:?}");
}

/// API Gateway routes only what the template declares: the same list, with the JWT authorizer
/// exactly on the signed-in routes.
#[test]
fn the_template_routes_exactly_these_routes() {
    let path = testkit::repo_root().join("infra/template.yaml");
    let template: serde_norway::Value = serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut declared: Vec<(String, bool)> = template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::ApiGatewayV2::Route"))
        .map(|r| {
            let p = &r["Properties"];
            (p["RouteKey"].as_str().unwrap().to_string(), p["AuthorizationType"].as_str() == Some("JWT"))
        })
        .collect();
    let mut expected: Vec<(String, bool)> = ROUTES.iter().map(|r| (format!("{} {}", r.method, r.path), r.signed_in)).collect();
    declared.sort();
    expected.sort();
    assert_eq!(declared, expected, "infra/template.yaml's ApiGatewayV2 routes vs api::ROUTES");
}

/// Every route that starts a render, deletes or writes has a throttle of its own, below the
/// stage's, and every throttled route is one the api has.
#[test]
fn writes_have_route_throttles_below_the_stages() {
    let path = testkit::repo_root().join("infra/template.yaml");
    let template: serde_norway::Value = serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let stage = &template["Resources"]["HttpApiStage"]["Properties"];
    let default = stage["DefaultRouteSettings"]["ThrottlingRateLimit"].as_u64().unwrap();
    let settings = stage["RouteSettings"].as_mapping().unwrap();
    let routes: Vec<String> = ROUTES.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    for (key, limits) in settings {
        let key = key.as_str().unwrap();
        assert!(routes.contains(&key.to_string()), "{key} is not one of api::ROUTES");
        assert!(limits["ThrottlingRateLimit"].as_u64().unwrap() < default, "{key}");
    }
    for write in ROUTES.iter().filter(|r| r.method != "GET") {
        let key = format!("{} {}", write.method, write.path);
        assert!(settings.contains_key(key.as_str()), "{key} has only the stage's throttle");
    }
}

/// The document's accepted upload types are the list the api checks (which a worker test holds
/// to what the core decodes).
#[test]
fn the_documented_upload_types_are_the_accepted_ones() {
    let doc = support::doc();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let enums: Vec<&serde_json::Value> = schemas
        .values()
        .filter_map(|s| s["properties"]["content_type"]["enum"].as_array().map(|_| &s["properties"]["content_type"]["enum"]))
        .collect();
    assert_eq!(enums.len(), 1, "one schema documents content_type");
    let accepted: Vec<&str> = shared::media::ACCEPTED.iter().map(|(t, _)| *t).collect();
    assert_eq!(enums[0], &json!(accepted));
}

/// CloudFront sends the api `X-Origin-Verify` from the stack's generated secret, and the api
/// function expects the same secret (`ORIGIN_VERIFY`) on AWS; off AWS (`!If RunsOnAws`) it expects
/// none, as nothing stands in front there.
#[test]
fn the_api_answers_only_what_cloudfront_forwards() {
    let path = testkit::repo_root().join("infra/template.yaml");
    let t: serde_norway::Value = serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let secret = &t["Resources"]["OriginVerify"];
    assert_eq!(secret["Type"], "AWS::SecretsManager::Secret");
    assert!(secret["Properties"]["GenerateSecretString"]["PasswordLength"].as_u64() >= Some(32));
    let reference = "{{resolve:secretsmanager:${OriginVerify}:SecretString}}";
    let origins = t["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["Origins"].as_sequence().unwrap();
    let origin = origins.iter().find(|o| o["Id"] == "api").unwrap();
    let header = &origin["OriginCustomHeaders"][0];
    assert_eq!(header["HeaderName"].as_str().map(str::to_ascii_lowercase).as_deref(), Some(api::apigw::ORIGIN_HEADER));
    assert!(serde_norway::to_string(&header["HeaderValue"]).unwrap().contains(reference));
    let variables = &t["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"];
    let env = serde_norway::to_string(&variables["ORIGIN_VERIFY"]).unwrap();
    assert!(env.contains("RunsOnAws") && env.contains(reference), "{env}");
}
