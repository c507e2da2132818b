//! Arbitrary request bytes → `raft_metrics::http::fuzz::respond` (the server's parser and
//! responder without sockets; compiled under cargo-fuzz's `--cfg fuzzing`) over a small registry.
//!
//! The response is empty (the server would close without answering: an incomplete head) or a
//! well-formed HTTP/1.1 response: `HTTP/1.1 ` and a 3-digit status, headers ending in CRLF CRLF,
//! an IMF-fixdate `Date`, `Content-Length` (which only a 200 to `HEAD` may omit) and
//! `Connection: close` present, and a body of exactly `Content-Length` bytes, or none at all for
//! `HEAD` whatever the status. A 200 from `/metrics` carries the registry's scrape in the format
//! its `Content-Type` names, gzip-compressed when `Content-Encoding: gzip` says so, and it parses
//! strictly.

#![no_main]

use std::io::Read;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use raft_metrics::advanced::parse::parse;
use raft_metrics::http::fuzz::respond;
use raft_metrics::http::DEFAULT_MAX_REQUEST_BYTES;
use raft_metrics::{Buckets, Counter, Format, MetricInfo, Registry, Unit};

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let r = Registry::new();
        r.counter("raft_elections_total", "Elections started.").expect("counter").add(3);
        r.gauge("raft_term", "Current term.").expect("gauge").set(-7);
        let commits = r
            .register_with::<Counter, 1>(MetricInfo::new("raft_commits_total", "Commits \"q\" \\ \n."), ["topic"], ())
            .expect("family");
        commits.get(("orders",)).inc();
        commits.get(("quo\"te\\new\nline ✓",)).add(2);
        let latency = r
            .histogram::<3, 0>(
                MetricInfo::new("raft_commit_latency_seconds", "Commit latency.").with_unit(Unit::Seconds),
                [],
                Buckets::new(vec![0.001, 0.01, 0.1]).expect("bounds"),
            )
            .expect("histogram");
        for v in [0.0005, 0.05, 1.0, f64::NAN] {
            latency.bind(()).observe(v);
        }
        r
    })
}

fn scrape(format: Format) -> &'static str {
    static SCRAPES: OnceLock<[String; 2]> = OnceLock::new();
    let [prometheus, openmetrics] = SCRAPES.get_or_init(|| {
        let p = registry().encode_to_string(Format::Prometheus);
        let o = registry().encode_to_string(Format::OpenMetrics);
        parse(&p, Format::Prometheus).expect("the registry's own Prometheus text parses");
        parse(&o, Format::OpenMetrics).expect("the registry's own OpenMetrics text parses");
        [p, o]
    });
    match format {
        Format::OpenMetrics => openmetrics,
        _ => prometheus,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fuzz_target!(|request: &[u8]| {
    let response = respond(registry(), request);
    if response.is_empty() {
        // Only an incomplete head, which cannot be longer than the limit, gets no answer.
        assert!(request.len() < DEFAULT_MAX_REQUEST_BYTES, "no answer to a {}-byte request", request.len());
        return;
    }
    let fail = |why: &str| -> ! {
        panic!(
            "{why}\nrequest: {:?}\nresponse: {:?}",
            String::from_utf8_lossy(request),
            String::from_utf8_lossy(&response)
        )
    };
    if !response.starts_with(b"HTTP/1.1 ") {
        fail("no HTTP/1.1 status line");
    }
    let status = &response[9..response.len().min(13)];
    if status.len() < 4 || !status[..3].iter().all(u8::is_ascii_digit) || status[3] != b' ' {
        fail("no 3-digit status");
    }
    let Some(head_end) = find(&response, b"\r\n\r\n") else { fail("no CRLF CRLF after the head") };
    let Ok(head) = std::str::from_utf8(&response[..head_end]) else { fail("the head is not UTF-8") };
    let body = &response[head_end + 4..];

    let mut content_length = None;
    let mut content_type = None;
    let mut gzip = false;
    let mut close = false;
    let mut date = None;
    for line in head.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(": ") else { fail("a header line without `: `") };
        if name.is_empty() || value.contains(['\r', '\n']) {
            fail("a malformed header line");
        }
        match name.to_ascii_lowercase().as_str() {
            "content-length" => {
                let length = value.parse::<usize>().unwrap_or_else(|_| fail("a bad Content-Length"));
                if content_length.replace(length).is_some() {
                    fail("two Content-Length headers");
                }
            }
            "content-type" => content_type = Some(value),
            "content-encoding" => gzip = value == "gzip",
            "connection" => close = value == "close",
            "date" => date = Some(value),
            _ => {}
        }
    }
    if !close {
        fail("no Connection: close");
    }
    // IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
    let imf_fixdate = |d: &str| d.len() == 29 && d.ends_with(" GMT") && d.as_bytes()[3] == b',';
    if !date.is_some_and(imf_fixdate) {
        fail("no IMF-fixdate Date header");
    }
    // Empty lines before the request line are ignored (RFC 9112 §2.2).
    let start = request.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(request.len());
    let mut skipped = &request[..start];
    while let Some(rest) = skipped.strip_prefix(b"\r\n").or_else(|| skipped.strip_prefix(b"\n")) {
        skipped = rest;
    }
    let head_request = skipped.is_empty() && request[start..].starts_with(b"HEAD ");
    // RFC 9110 §9.3.2: no body in any response to HEAD, errors included.
    if head_request && !body.is_empty() {
        fail("a body in a response to HEAD");
    }
    let content_length = match content_length {
        Some(length) => length,
        // HEAD /metrics does not encode the scrape, so it cannot know its length.
        None if head_request && status.starts_with(b"200") => 0,
        None => fail("no Content-Length"),
    };
    // Regression (fuzz/regressions/endpoint-404-without-body): only HEAD omits the body.
    if body.len() != content_length && !head_request {
        fail("the body length differs from Content-Length");
    }

    // A scrape: the body is the registry's text in the announced format.
    let format = match content_type {
        Some(t) if t.starts_with("application/openmetrics-text") => Some(Format::OpenMetrics),
        Some(t) if t.starts_with("text/plain; version=0.0.4") => Some(Format::Prometheus),
        _ => None,
    };
    if let (Some(format), false) = (format, body.is_empty()) {
        if !status.starts_with(b"200") {
            fail("a scrape content type on an error");
        }
        let mut text = Vec::new();
        if gzip {
            if flate2::read::GzDecoder::new(body).read_to_end(&mut text).is_err() {
                fail("the gzip body does not decompress");
            }
        } else {
            text.extend_from_slice(body);
        }
        if text != scrape(format).as_bytes() {
            fail("the body is not the registry's scrape");
        }
    }
});
