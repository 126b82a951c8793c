//! A stand-in for an AWS service the emulator lacks (CloudFormation's termination protection,
//! CodeDeploy): a loopback HTTP server that hands each request to the test and writes back the
//! answer the test recorded from the service's documented responses.

use std::io::{Read, Write};

/// One request as the stand-in read it.
pub struct Request {
    /// The request line and headers, lowercased.
    pub head: String,
    pub body: String,
}

impl Request {
    /// A header's value (names are matched lowercased).
    pub fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.head.lines().find_map(|l| l.strip_prefix(prefix.as_str())).map(str::trim)
    }
}

/// An answer: status line, content type, body.
pub struct Answer {
    pub status: &'static str,
    pub content_type: &'static str,
    pub body: String,
}

/// Serves `answer` on a free loopback port until the process ends; returns its endpoint.
pub fn serve(answer: impl Fn(&Request) -> Answer + Send + 'static) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let endpoint = format!("http://{}", listener.local_addr().expect("its address"));
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(10)));
            let Some(request) = read(&mut conn) else { continue };
            let a = answer(&request);
            let _ = write!(
                conn,
                "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                a.status,
                a.content_type,
                a.body.len(),
                a.body
            );
        }
    });
    endpoint
}

/// Headers, then as many body bytes as `Content-Length` says.
fn read(conn: &mut std::net::TcpStream) -> Option<Request> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = conn.read(&mut buf).ok()?;
        bytes.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&bytes).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let head = head.to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0usize);
            if body.len() >= length || n == 0 {
                return Some(Request { head, body: body.to_string() });
            }
        }
        if n == 0 {
            return None;
        }
    }
}
