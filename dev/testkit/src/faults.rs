//! A fault-injecting HTTP proxy on loopback, between the functions' SDK clients and moto. It
//! forwards every request unchanged, except that S3 GetObject / PutObject and DynamoDB PutItem
//! fail with a real service error (S3 500 InternalError or 503 SlowDown, DynamoDB 500 or
//! ThrottlingException) at a given rate, and GetObject of chosen keys fails every time.
//! The SDK's own retries and the queue's redelivery then have to make up for it. It can also
//! hold every S3 GetObject / PutObject for a fixed time, as a real bucket's round trip takes
//! (the bench's end-to-end figure).
//!
//! One request per client connection (`Connection: close` both ways): simple, and the SDK
//! reconnects on its own.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub struct Plan {
    /// Chance of a fault on each GetObject, PutObject or PutItem.
    pub rate: f64,
    /// GetObject of a key containing one of these fails every time.
    pub always_fail: Vec<String>,
    pub seed: u64,
    /// Added to every S3 GetObject and PutObject before it is forwarded (or failed).
    pub s3_latency: std::time::Duration,
}

pub struct Proxy {
    pub endpoint: String,
    state: Arc<State>,
}

struct State {
    upstream: String,
    plan: Plan,
    rng: Mutex<u64>,
    injected: Mutex<BTreeMap<String, u64>>,
    forwarded: AtomicU64,
    enabled: AtomicBool,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str, plan: Plan) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy port");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            upstream: upstream.trim_start_matches("http://").to_string(),
            rng: Mutex::new(plan.seed | 1),
            plan,
            injected: Mutex::new(BTreeMap::new()),
            forwarded: AtomicU64::new(0),
            enabled: AtomicBool::new(true),
        });
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = serve(conn, &state);
                });
            }
        });
        Proxy { endpoint, state }
    }

    /// Faults injected so far, by `operation status code`.
    pub fn injected(&self) -> BTreeMap<String, u64> {
        self.state.injected.lock().unwrap().clone()
    }

    pub fn forwarded(&self) -> u64 {
        self.state.forwarded.load(Ordering::Relaxed)
    }

    /// Turns fault injection on or off (everything is forwarded while off).
    pub fn set_enabled(&self, on: bool) {
        self.state.enabled.store(on, Ordering::Relaxed);
    }
}

pub(crate) struct Request {
    pub(crate) head: Vec<String>,
    pub(crate) body: Vec<u8>,
}

fn serve(client: TcpStream, state: &State) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    let Some(request) = read_request(&mut reader, &mut client)? else { return Ok(()) };
    if !state.plan.s3_latency.is_zero() && operation(&request).is_some_and(|(op, _)| op.starts_with("s3:")) {
        std::thread::sleep(state.plan.s3_latency);
    }
    if let Some((op, response)) = fault(&request, state) {
        *state.injected.lock().unwrap().entry(op).or_default() += 1;
        client.write_all(&response)?;
        return client.flush();
    }
    state.forwarded.fetch_add(1, Ordering::Relaxed);
    forward(&request, &state.upstream, &mut client)
}

/// Sends `request` to `upstream` (one request, `Connection: close`) and its answer to `client`.
pub(crate) fn forward(request: &Request, upstream: &str, client: &mut TcpStream) -> std::io::Result<()> {
    let mut to = TcpStream::connect(upstream)?;
    let mut out = Vec::new();
    for line in &request.head {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("connection:") || lower.starts_with("expect:") || lower.starts_with("transfer-encoding:") {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // The body is forwarded de-chunked, with its length.
    if !request.head.iter().any(|l| l.to_ascii_lowercase().starts_with("content-length:")) && !request.body.is_empty() {
        out.extend_from_slice(format!("Content-Length: {}\r\n", request.body.len()).as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&request.body);
    to.write_all(&out)?;
    let mut response = Vec::new();
    to.read_to_end(&mut response)?;
    client.write_all(&with_connection_close(response))?;
    client.flush()
}

/// A header's value from a request's head (its first line is the request line).
pub(crate) fn header(head: &[String], name: &str) -> Option<String> {
    head.iter().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

pub(crate) fn read_request(reader: &mut BufReader<TcpStream>, client: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let header = |name: &str| header(&head, name);
    if header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut body = Vec::new();
    if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    } else if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Ok(Some(Request { head, body }))
}

/// Which operation this is, if it is one faults are injected into.
fn operation(request: &Request) -> Option<(&'static str, String)> {
    let mut parts = request.head.first()?.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    let target_header = request.head.iter().find_map(|l| l.strip_prefix("x-amz-target: ").or(l.strip_prefix("X-Amz-Target: ")));
    if target_header.is_some_and(|t| t.ends_with(".PutItem")) {
        return Some(("dynamodb:PutItem", String::new()));
    }
    let path = target.split('?').next()?;
    let is_object = path.trim_start_matches('/').contains('/') && target_header.is_none();
    let copy = request.head.iter().any(|l| l.to_ascii_lowercase().starts_with("x-amz-copy-source"));
    match method {
        "GET" if is_object && (!target.contains('?') || target.contains("x-id=GetObject")) => {
            Some(("s3:GetObject", path.to_string()))
        }
        "PUT" if is_object && !copy => Some(("s3:PutObject", path.to_string())),
        _ => None,
    }
}

fn fault(request: &Request, state: &State) -> Option<(String, Vec<u8>)> {
    if !state.enabled.load(Ordering::Relaxed) {
        return None;
    }
    let (op, path) = operation(request)?;
    let always = op == "s3:GetObject" && state.plan.always_fail.iter().any(|k| path.contains(k.as_str()));
    let roll = next(&state.rng);
    if !always && roll >= state.plan.rate {
        return None;
    }
    let second = next(&state.rng) < 0.5;
    let (status, body, content_type) = match (op.starts_with("s3:"), second) {
        (true, false) => (500, s3_error("InternalError", "We encountered an internal error. (injected)"), "application/xml"),
        (true, true) => (503, s3_error("SlowDown", "Please reduce your request rate. (injected)"), "application/xml"),
        (false, false) => (500, dynamo_error("InternalServerError"), "application/x-amz-json-1.0"),
        (false, true) => (400, dynamo_error("ThrottlingException"), "application/x-amz-json-1.0"),
    };
    let kind = if always { format!("{op} {status} (always)") } else { format!("{op} {status}") };
    let response = format!(
        "HTTP/1.1 {status} Injected\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    Some((kind, response.into_bytes()))
}

fn s3_error(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>injected</RequestId></Error>"
    )
}

fn dynamo_error(code: &str) -> String {
    format!("{{\"__type\":\"com.amazonaws.dynamodb.v20120810#{code}\",\"message\":\"injected\"}}")
}

/// xorshift64*: a seeded, repeatable stream in [0, 1).
fn next(rng: &Mutex<u64>) -> f64 {
    let mut x = rng.lock().unwrap();
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
}

/// Marks the relayed response as the connection's last.
pub(crate) fn with_connection_close(response: Vec<u8>) -> Vec<u8> {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else { return response };
    let head = String::from_utf8_lossy(&response[..end]);
    let mut out: Vec<u8> = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .flat_map(|l| format!("{l}\r\n").into_bytes())
        .collect();
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&response[end + 4..]);
    out
}
