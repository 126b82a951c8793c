//! A proxy that works around one moto gap so that a test can run with IAM enforced: moto checks
//! a SigV4 signature against the form body as Python re-encodes it (spaces as `+`), and the Rust
//! SDK encodes spaces as `%20`, so every query-protocol request with a space in it (a template
//! body, a description) fails as `SignatureDoesNotMatch`. This proxy re-encodes such bodies the
//! way moto does and signs them again with the same caller's secret; the caller, the action and
//! its parameters stay what they were, so moto's IAM still decides.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::SystemTime;

use crate::faults::{forward, header, read_request};

pub struct Resigner {
    pub endpoint: String,
}

impl Resigner {
    /// Forwards to `upstream`; `secrets` maps each access key id to its secret.
    pub fn start(upstream: &str, secrets: BTreeMap<String, String>) -> Resigner {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy port");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let secrets = Arc::new(secrets);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (upstream, secrets) = (upstream.clone(), Arc::clone(&secrets));
                std::thread::spawn(move || {
                    let _ = serve(conn, &upstream, &secrets);
                });
            }
        });
        Resigner { endpoint }
    }
}

fn serve(client: TcpStream, upstream: &str, secrets: &BTreeMap<String, String>) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    let Some(mut request) = read_request(&mut reader, &mut client)? else { return Ok(()) };
    let form = header(&request.head, "content-type").is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if form && request.body.windows(3).any(|w| w == b"%20") {
        request = resign(request, upstream, secrets)?;
    }
    forward(&request, upstream, &mut client)
}

/// `%20` → `+`, as Python's `urlencode` writes it (every other escape is the same), then a new
/// signature over the new body, for the same key, region and service.
fn resign(
    request: crate::faults::Request,
    upstream: &str,
    secrets: &BTreeMap<String, String>,
) -> std::io::Result<crate::faults::Request> {
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let body = String::from_utf8(request.body).map_err(|_| invalid("form body is not UTF-8"))?.replace("%20", "+");
    let authorization = header(&request.head, "authorization").ok_or_else(|| invalid("unsigned request"))?;
    let scope =
        authorization.split("Credential=").nth(1).and_then(|s| s.split(',').next()).ok_or_else(|| invalid("no credential"))?;
    let parts: Vec<&str> = scope.split('/').collect();
    let (key, region, service) = (parts[0], parts[2], parts[3]);
    let secret = secrets.get(key).ok_or_else(|| invalid("unknown access key"))?;
    let content_type = "application/x-www-form-urlencoded";
    let length = body.len().to_string();
    let url = format!("http://{upstream}/");
    let identity = aws_credential_types::Credentials::new(key, secret, None, None, "resigner").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(aws_sigv4::http_request::SigningSettings::default())
        .build()
        .map_err(|e| invalid(&e.to_string()))?
        .into();
    let headers = [("host", upstream), ("content-type", content_type), ("content-length", length.as_str())];
    let signable = aws_sigv4::http_request::SignableRequest::new(
        "POST",
        &url,
        headers.into_iter(),
        aws_sigv4::http_request::SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| invalid(&e.to_string()))?;
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params).map_err(|e| invalid(&e.to_string()))?.into_parts();
    let first = request.head.first().cloned().unwrap_or_default();
    let mut head =
        vec![first, format!("Host: {upstream}"), format!("Content-Type: {content_type}"), format!("Content-Length: {length}")];
    head.extend(instructions.headers().map(|(k, v)| format!("{k}: {v}")));
    Ok(crate::faults::Request { head, body: body.into_bytes() })
}
