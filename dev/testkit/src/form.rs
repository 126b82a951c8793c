//! Plain HTTP/1.1 over loopback, as a browser would speak to the local servers: a
//! `multipart/form-data` POST (a presigned upload) and simple requests. Tests talk only to
//! servers on this machine, so no client library is needed.

use std::io::{Read, Write};
use std::net::TcpStream;

pub struct HttpResponse {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One request to an `http://host:port/path` URL.
pub fn request(method: &str, url: &str, content_type: Option<&str>, body: &[u8]) -> HttpResponse {
    request_with(method, url, &[], content_type, body)
}

/// [`request`] with more headers (`Authorization`, say).
pub fn request_with(method: &str, url: &str, headers: &[(&str, &str)], content_type: Option<&str>, body: &[u8]) -> HttpResponse {
    let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("only http:// URLs: {url}"));
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("connecting to {host}: {e}"));
    let content_type = content_type.map(|t| format!("Content-Type: {t}\r\n")).unwrap_or_default();
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{content_type}{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split =
        raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("not HTTP: {}", String::from_utf8_lossy(&raw)));
    let headers = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = headers.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not HTTP: {headers}"));
    HttpResponse { status, headers, body: raw[split + 4..].to_vec() }
}

/// Posts `fields`, then `file` last (S3 ignores fields after it), as a browser posts a form.
/// Returns the status code and body.
pub fn post_form(url: &str, fields: &[(String, String)], file_name: &str, content_type: &str, file: &[u8]) -> (u16, String) {
    let boundary = "thumbstack-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, value) in fields {
        write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").unwrap();
    }
    write!(
        body,
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .unwrap();
    body.extend_from_slice(file);
    write!(body, "\r\n--{boundary}--\r\n").unwrap();
    let response = request("POST", url, Some(&format!("multipart/form-data; boundary={boundary}")), &body);
    (response.status, response.text())
}
