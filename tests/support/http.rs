//! Plain HTTP/1.1 over a std `TcpStream` to a loopback port (the broker's HTTP listener,
//! `milena.http.listener`, and Prometheus' API), and a broker started with that listener on a
//! free port. Requests are sent as is, so tests can also send malformed ones.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::{free_port, wait_until, Broker};

/// A broker with the HTTP listener on a free loopback port; returns it and the port.
pub fn start_broker(extra: &[(&str, &str)]) -> (Broker, u16) {
    let http_port = free_port();
    let listener = format!("127.0.0.1:{http_port}");
    let mut props = vec![
        ("group.initial.rebalance.delay.ms", "0"),
        ("milena.http.listener", listener.as_str()),
    ];
    props.extend_from_slice(extra);
    let broker = Broker::start_with(&props);
    assert!(
        wait_until(Duration::from_secs(10), || TcpStream::connect((
            "127.0.0.1",
            http_port
        ))
        .is_ok()),
        "the HTTP listener did not open\n{}",
        broker.log()
    );
    (broker, http_port)
}

/// Sends `request` as is and returns everything the server wrote until it closed (or 10 s);
/// empty if the port does not accept.
pub fn raw_http(port: u16, request: &[u8]) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The server may answer and close before it has read all of an oversized request.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// An answer: status code, the head (status line and headers) and the body.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    fn parse(answer: &str) -> Answer {
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
        Answer {
            status,
            head: head.to_string(),
            body: body.to_string(),
        }
    }

    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// GET `path`: (status code, body).
pub fn get(port: u16, path: &str) -> (u16, String) {
    let a = get_answer(port, path);
    (a.status, a.body)
}

/// GET `path`, the whole answer.
pub fn get_answer(port: u16, path: &str) -> Answer {
    Answer::parse(&raw_http(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    ))
}

/// POSTs a form (`application/x-www-form-urlencoded` `body`) to `path`, with `extra_headers`
/// (lines ending in CRLF).
pub fn post_form(port: u16, path: &str, body: &str, extra_headers: &str) -> Answer {
    Answer::parse(&raw_http(
        port,
        format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n{extra_headers}\r\n{body}",
            body.len()
        )
        .as_bytes(),
    ))
}
