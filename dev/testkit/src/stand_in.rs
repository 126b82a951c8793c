//! A stand-in for an AWS service the emulator lacks (CloudFormation's termination protection,
//! CodeDeploy): a loopback HTTP server that hands each request to the test and writes back the
//! answer the test recorded from the service's documented responses.

use std::io::{Read, Write};

/// One request as the stand-in read it.
pub struct Request {
    /// The request line and headers, as sent.
    pub head: String,
    pub body: String,
}

impl Request {
    /// A header's value (names are matched in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// Every header, names lowercased, in the order sent.
    pub fn headers(&self) -> Vec<(String, String)> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect()
    }

    /// The request line's method and target.
    pub fn line(&self) -> (&str, &str) {
        let mut parts = self.head.lines().next().unwrap_or_default().split(' ');
        (parts.next().unwrap_or_default(), parts.next().unwrap_or_default())
    }
}

/// An answer: status line, content type, body, and any other headers.
#[derive(Default)]
pub struct Answer {
    pub status: &'static str,
    pub content_type: &'static str,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
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
            let extra: String = a.headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
            let _ = write!(
                conn,
                "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{}",
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
            let length = head
                .to_ascii_lowercase()
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").map(str::to_string))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0usize);
            if body.len() >= length || n == 0 {
                return Some(Request { head: head.to_string(), body: body.to_string() });
            }
        }
        if n == 0 {
            return None;
        }
    }
}
