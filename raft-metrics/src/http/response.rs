//! The response bytes: status lines and headers, the scrape in the negotiated format (a panic
//! while encoding becomes a 500), gzip, and the canned 503 the acceptor writes without a worker.

use std::io::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::SystemTime;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::request::{Method, Refusal, Request, Route, Status};
use crate::Registry;

/// What a connection beyond `max_connections` or `max_connections_per_ip` gets, written by the
/// acceptor itself (before any request is read, so also to a `HEAD`; RFC 9110 §6.6.1 makes
/// `Date` optional on a 5xx, and this one has none, so it can stay a constant).
pub(super) const BUSY_RESPONSE: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Length: 20\r\nRetry-After: 1\r\nConnection: close\r\n\r\nservice unavailable\n";
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// The buffers one response is rendered into; a worker keeps them from one connection to the
/// next, so they grow to the largest scrape once instead of being allocated per request.
#[derive(Default)]
pub(super) struct Response {
    /// The scrape as encoded.
    scrape: Vec<u8>,
    /// The scrape gzip-compressed, when negotiated.
    gzip: Vec<u8>,
    /// The whole response: status line, headers and body.
    pub(super) out: Vec<u8>,
}

/// Renders into `response.out` the answer to a parsed head or to the status it was refused with.
///
/// A response to `HEAD` never has a body, errors included (RFC 9110 §9.3.2). `HEAD /metrics` does
/// not encode the scrape: its length is known only by encoding it, so the response omits
/// `Content-Length` (which RFC 9110 §9.3.2 allows for fields computed while generating content)
/// and costs no more than `/health`.
pub(super) fn render(registry: &Registry, outcome: &Result<Request, Refusal>, response: &mut Response) {
    response.out.clear();
    let request = match outcome {
        Ok(request) => request,
        Err(refusal) => return render_text(&mut response.out, refusal.status, "", !refusal.head),
    };
    let body = request.method != Method::Head;
    match (request.route, request.method) {
        (_, Method::Unknown) => render_text(&mut response.out, Status::NotImplemented, "", body),
        (Route::NotFound, _) => render_text(&mut response.out, Status::NotFound, "", body),
        (_, Method::Other) => render_text(&mut response.out, Status::MethodNotAllowed, "Allow: GET, HEAD\r\n", body),
        (Route::Health, _) => {
            write_head(&mut response.out, Status::Ok, TEXT_PLAIN, false, Some(2), "");
            if body {
                response.out.extend_from_slice(b"ok");
            }
        }
        (Route::Metrics, Method::Head) => write_head(
            &mut response.out,
            Status::Ok,
            request.format.content_type(),
            request.gzip,
            None,
            "Vary: Accept, Accept-Encoding\r\n",
        ),
        (Route::Metrics, _) => render_metrics(registry, request, response),
    }
}

/// A plain-text response whose body is the status line's reason, lower-cased.
fn render_text(out: &mut Vec<u8>, status: Status, extra_headers: &str, body: bool) {
    let reason = status.code_and_reason().get(4..).unwrap_or_default().to_ascii_lowercase();
    write_head(out, status, TEXT_PLAIN, false, Some(reason.len() + 1), extra_headers);
    if body {
        out.extend_from_slice(reason.as_bytes());
        out.push(b'\n');
    }
}

fn render_metrics(registry: &Registry, request: &Request, response: &mut Response) {
    let Response { scrape, gzip, out } = response;
    scrape.clear();
    let format = request.format;
    if catch_unwind(AssertUnwindSafe(|| registry.encode(format, scrape))).is_err() {
        return render_text(out, Status::InternalServerError, "", true);
    }
    let body: &[u8] = if request.gzip {
        gzip.clear();
        if compress(scrape, gzip).is_err() {
            return render_text(out, Status::InternalServerError, "", true);
        }
        gzip
    } else {
        scrape
    };
    let vary = "Vary: Accept, Accept-Encoding\r\n";
    write_head(out, Status::Ok, format.content_type(), request.gzip, Some(body.len()), vary);
    out.extend_from_slice(body);
}

fn compress(input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    let mut encoder = GzEncoder::new(out, Compression::fast());
    encoder.write_all(input)?;
    encoder.finish().map(drop)
}

/// The status line and headers, with `Date` (IMF-fixdate, RFC 9110 §5.6.7) and `Content-Length`
/// when `len` is known; `extra_headers` are whole lines, each ending in CRLF.
fn write_head(
    out: &mut Vec<u8>,
    status: Status,
    content_type: &str,
    gzip: bool,
    len: Option<usize>,
    extra_headers: &str,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.code_and_reason().as_bytes());
    out.extend_from_slice(b"\r\nDate: ");
    out.extend_from_slice(httpdate::fmt_http_date(SystemTime::now()).as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: ");
    out.extend_from_slice(content_type.as_bytes());
    if gzip {
        out.extend_from_slice(b"\r\nContent-Encoding: gzip");
    }
    if let Some(len) = len {
        out.extend_from_slice(b"\r\nContent-Length: ");
        out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(extra_headers.as_bytes());
    out.extend_from_slice(b"Connection: close\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::fuzz::respond;
    use crate::http::DEFAULT_MAX_REQUEST_BYTES;
    use crate::Format;

    fn split(response: &[u8]) -> (String, &[u8]) {
        let end = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
        (String::from_utf8(response[..end].to_vec()).unwrap(), &response[end..])
    }

    #[test]
    fn responses() {
        let registry = Registry::new();
        registry.counter("r_total", "R.").unwrap().inc();
        let prometheus = registry.encode_to_string(Format::Prometheus);

        let response = respond(&registry, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        let (head, body) = split(&response);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains(&format!("Content-Type: {}\r\n", Format::Prometheus.content_type())), "{head}");
        assert!(head.contains(&format!("Content-Length: {}\r\n", prometheus.len())), "{head}");
        assert!(head.ends_with("Connection: close\r\n\r\n"), "{head}");
        assert_eq!(body, prometheus.as_bytes());

        assert!(head.contains("\r\nDate: "), "{head}");

        // HEAD does not encode the scrape, so its length is unknown: no Content-Length.
        let response = respond(&registry, b"HEAD /metrics HTTP/1.0\r\n\r\n");
        let (head, body) = split(&response);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains(&format!("Content-Type: {}\r\n", Format::Prometheus.content_type())), "{head}");
        assert!(!head.contains("Content-Length"), "{head}");
        assert!(body.is_empty());

        let response = respond(&registry, b"GET /health HTTP/1.0\r\n\r\n");
        assert_eq!(split(&response).1, b"ok");

        for (request, status_line, body) in [
            (&b"GET /nope HTTP/1.0\r\n\r\n"[..], "HTTP/1.1 404 Not Found\r\n", &b"not found\n"[..]),
            (b"HEAD /nope HTTP/1.0\r\n\r\n", "HTTP/1.1 404 Not Found\r\n", b""),
            (b"DELETE /metrics HTTP/1.0\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\n", b"method not allowed\n"),
            (b"BREW /metrics HTTP/1.0\r\n\r\n", "HTTP/1.1 501 Not Implemented\r\n", b"not implemented\n"),
            (b"X / HTTP/1.0\n\n", "HTTP/1.1 501 Not Implemented\r\n", b"not implemented\n"),
            (b"POST /nope HTTP/1.0\r\n\r\n", "HTTP/1.1 404 Not Found\r\n", b"not found\n"),
            // Errors to HEAD carry no body (RFC 9110 §9.3.2).
            (b"HEAD /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n", b""),
            (b"HEAD /metrics HTTP/3.0\r\n", "HTTP/1.1 505 HTTP Version Not Supported\r\n", b""),
            (b"HEAD /metrics HTTP/1.0\r\nContent-Length: x\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n", b""),
            (b"\x00", "HTTP/1.1 400 Bad Request\r\n", b"bad request\n"),
            (b"GET / HTTP/3.0\r\n", "HTTP/1.1 505 HTTP Version Not Supported\r\n", b"http version not supported\n"),
        ] {
            let response = respond(&registry, request);
            let (head, got) = split(&response);
            assert!(head.starts_with(status_line), "{head}");
            assert!(head.contains("Content-Length: "), "{head}");
            if !body.is_empty() {
                assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())), "{head}");
            }
            assert_eq!(got, body, "{head}");
        }
        assert!(split(&respond(&registry, b"POST /health HTTP/1.0\r\n\r\n")).0.contains("Allow: GET, HEAD\r\n"));
        assert!(respond(&registry, b"GET /metrics HTTP/1.1\r\n").is_empty());
        let huge = vec![b'a'; DEFAULT_MAX_REQUEST_BYTES + 1];
        assert!(split(&respond(&registry, &huge)).0.starts_with("HTTP/1.1 431 "));
    }

    #[test]
    fn gzip_responses_decompress_to_the_scrape() {
        use std::io::Read as _;
        let registry = Registry::new();
        registry.gauge("g", "G.").unwrap().set(3);
        let response = respond(
            &registry,
            b"GET /metrics HTTP/1.0\r\nAccept: application/openmetrics-text\r\nAccept-Encoding: gzip\r\n\r\n",
        );
        let (head, body) = split(&response);
        assert!(head.contains("Content-Encoding: gzip\r\n"), "{head}");
        assert!(head.contains(&format!("Content-Type: {}\r\n", Format::OpenMetrics.content_type())), "{head}");
        assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())), "{head}");
        let mut text = String::new();
        flate2::read::GzDecoder::new(body).read_to_string(&mut text).unwrap();
        assert_eq!(text, registry.encode_to_string(Format::OpenMetrics));
    }

    #[test]
    fn the_busy_response_is_well_formed() {
        let (head, body) = split(BUSY_RESPONSE);
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())), "{head}");
    }
}
