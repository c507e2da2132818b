//! The HTTP/1.1 request-head grammar (RFC 9112 request line and header fields, strictly) and its
//! limits: the head's length and the number of header lines. Only what the response depends on
//! is kept: method, route, the negotiated format and gzip, and whether a body follows.

use super::negotiate::Negotiation;
use crate::Format;

/// Header lines beyond this many get 431.
const MAX_HEADERS: usize = 64;

/// The status a request earns: the parser refuses with 400, 431 or 505, and rendering picks
/// the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Ok,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    HeaderFieldsTooLarge,
    InternalServerError,
    VersionNotSupported,
}

impl Status {
    /// The status line after `HTTP/1.1 `.
    pub(super) fn code_and_reason(self) -> &'static str {
        match self {
            Self::Ok => "200 OK",
            Self::BadRequest => "400 Bad Request",
            Self::NotFound => "404 Not Found",
            Self::MethodNotAllowed => "405 Method Not Allowed",
            Self::HeaderFieldsTooLarge => "431 Request Header Fields Too Large",
            Self::InternalServerError => "500 Internal Server Error",
            Self::VersionNotSupported => "505 HTTP Version Not Supported",
        }
    }
}

/// The request's method: GET and HEAD are served, any other gets 405 (or 404 off the routes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    Get,
    Head,
    Other,
}

/// What the path names: the scrape (at the configured path), `/health`, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    Metrics,
    Health,
    NotFound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Http10,
    Http11,
}

/// A parsed request head: only what the response depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Request {
    pub(super) method: Method,
    pub(super) route: Route,
    pub(super) format: Format,
    pub(super) gzip: bool,
    /// Bytes up to and including the empty line.
    pub(super) head_len: usize,
    /// `Content-Length` other than 0, or `Transfer-Encoding`: input follows that we never read.
    pub(super) has_body: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Parsed {
    /// No empty line yet, and nothing wrong so far.
    Incomplete,
    Done(Result<Request, Status>),
}

/// Parses a request head from the start of `buf`: lines end in LF, optionally preceded by CR;
/// the head ends at the first empty line. Lines already complete are checked even while the
/// head is incomplete, so garbage is refused before the timeout. A head longer than `max` bytes
/// gets 431; the scrape is served on `path`.
pub(super) fn parse_head(buf: &[u8], max: usize, path: &[u8]) -> Parsed {
    let mut pos = 0;
    let mut start: Option<(Method, Route, Version)> = None;
    let mut headers = 0;
    let mut hosts = 0;
    let mut has_body = false;
    let mut negotiation = Negotiation::default();
    let fail = |status| Parsed::Done(Err(status));
    loop {
        let rest = buf.get(pos..).unwrap_or_default();
        let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
            let valid = match start {
                None => rest.iter().all(|&b| b == b' ' || b == b'\r' || b.is_ascii_graphic()),
                Some(_) => rest.iter().all(|&b| !is_forbidden_in_field(b)),
            };
            return if !valid {
                fail(Status::BadRequest)
            } else if buf.len() >= max {
                fail(Status::HeaderFieldsTooLarge)
            } else {
                Parsed::Incomplete
            };
        };
        let end = pos + newline + 1;
        if end > max {
            return fail(Status::HeaderFieldsTooLarge);
        }
        let line = rest.get(..newline).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos = end;
        if line.contains(&b'\r') {
            return fail(Status::BadRequest); // a bare CR
        }
        let Some((method, route, version)) = start else {
            match parse_request_line(line, path) {
                Ok(parsed) => start = Some(parsed),
                Err(status) => return fail(status),
            }
            continue;
        };
        if line.is_empty() {
            if hosts > 1 || version == Version::Http11 && hosts == 0 {
                return fail(Status::BadRequest);
            }
            return Parsed::Done(Ok(Request {
                method,
                route,
                format: negotiation.format(),
                gzip: negotiation.gzip(),
                head_len: end,
                has_body,
            }));
        }
        headers += 1;
        if headers > MAX_HEADERS {
            return fail(Status::HeaderFieldsTooLarge);
        }
        let Some((name, value)) = parse_header(line) else { return fail(Status::BadRequest) };
        if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case(b"accept") {
            negotiation.accept(value);
        } else if name.eq_ignore_ascii_case(b"accept-encoding") {
            negotiation.accept_encoding(value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            has_body |= value != b"0";
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            has_body = true;
        }
    }
}

/// `method SP request-target SP HTTP-version`, single spaces, visible ASCII only.
fn parse_request_line(line: &[u8], metrics_path: &[u8]) -> Result<(Method, Route, Version), Status> {
    if !line.iter().all(|&b| b == b' ' || b.is_ascii_graphic()) {
        return Err(Status::BadRequest);
    }
    let (Some(first), Some(last)) = (line.iter().position(|&b| b == b' '), line.iter().rposition(|&b| b == b' '))
    else {
        return Err(Status::BadRequest);
    };
    let method = line.get(..first).unwrap_or_default();
    let target = line.get(first + 1..last).unwrap_or_default();
    let version = line.get(last + 1..).unwrap_or_default();
    if method.is_empty() || !method.iter().copied().all(is_tchar) || target.is_empty() || target.contains(&b' ') {
        return Err(Status::BadRequest);
    }
    let version = match version {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor] if major.is_ascii_digit() && minor.is_ascii_digit() => {
            return Err(Status::VersionNotSupported)
        }
        _ => return Err(Status::BadRequest),
    };
    let method = match method {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        _ => Method::Other,
    };
    let route = route(target, metrics_path).ok_or(Status::BadRequest)?;
    Ok((method, route, version))
}

/// The route of an origin-form (`/path?query`) or absolute-form (`http://host/path`) target.
fn route(target: &[u8], metrics_path: &[u8]) -> Option<Route> {
    let path = if target.starts_with(b"/") {
        target
    } else {
        let rest =
            strip_prefix_ignore_case(target, b"http://").or_else(|| strip_prefix_ignore_case(target, b"https://"))?;
        rest.iter().position(|&b| b == b'/').and_then(|slash| rest.get(slash..)).unwrap_or(b"/")
    };
    let path = path.split(|&b| b == b'?').next().unwrap_or_default();
    Some(if path == metrics_path {
        Route::Metrics
    } else if path == b"/health" {
        Route::Health
    } else {
        Route::NotFound
    })
}

fn strip_prefix_ignore_case<'a>(bytes: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = bytes.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| bytes.get(prefix.len()..).unwrap_or_default())
}

/// `name: value` with a token name, no space before the colon, and a value of visible
/// characters, spaces, tabs or obs-text (trimmed). Obsolete line folding is refused.
fn parse_header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = line.get(..colon)?;
    let value = line.get(colon + 1..)?;
    if name.is_empty() || !name.iter().copied().all(is_tchar) || value.iter().any(|&b| is_forbidden_in_field(b)) {
        return None;
    }
    Some((name, value.trim_ascii()))
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Controls other than HT (CR is handled as a line end).
fn is_forbidden_in_field(b: u8) -> bool {
    b < 0x20 && b != b'\t' && b != b'\r' || b == 0x7f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{DEFAULT_MAX_REQUEST_BYTES, DEFAULT_PATH};

    fn parse(head: &[u8]) -> Parsed {
        parse_within(head, DEFAULT_MAX_REQUEST_BYTES)
    }

    fn parse_within(head: &[u8], max: usize) -> Parsed {
        parse_head(head, max, DEFAULT_PATH.as_bytes())
    }

    fn request(head: &[u8]) -> Request {
        match parse(head) {
            Parsed::Done(Ok(request)) => request,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(head)),
        }
    }

    fn status(head: &[u8]) -> Status {
        match parse(head) {
            Parsed::Done(Err(status)) => status,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(head)),
        }
    }

    #[test]
    fn parses_a_minimal_request() {
        let head = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
        let r = request(head);
        assert_eq!(
            (r.method, r.route, r.format, r.gzip, r.has_body),
            (Method::Get, Route::Metrics, Format::Prometheus, false, false)
        );
        assert_eq!(r.head_len, head.len());
        // Bytes after the head are not part of it.
        assert_eq!(request(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1").head_len, head.len());
    }

    #[test]
    fn routes_methods_and_targets() {
        assert_eq!(request(b"HEAD /metrics HTTP/1.0\r\n\r\n").method, Method::Head);
        assert_eq!(request(b"POST /metrics HTTP/1.0\r\n\r\n").method, Method::Other);
        assert_eq!(request(b"get /metrics HTTP/1.0\r\n\r\n").method, Method::Other); // case-sensitive
        assert_eq!(request(b"GET /health HTTP/1.0\r\n\r\n").route, Route::Health);
        assert_eq!(request(b"GET /metrics?x=1&y HTTP/1.0\r\n\r\n").route, Route::Metrics);
        assert_eq!(request(b"GET http://h:1/metrics HTTP/1.0\r\n\r\n").route, Route::Metrics);
        assert_eq!(request(b"GET HTTPS://h HTTP/1.0\r\n\r\n").route, Route::NotFound);
        for target in ["/", "/metrics/", "/Metrics", "/metrics#x", "//metrics"] {
            let head = format!("GET {target} HTTP/1.0\r\n\r\n");
            assert_eq!(request(head.as_bytes()).route, Route::NotFound, "{target}");
        }
    }

    #[test]
    fn bare_lf_line_ends_are_accepted() {
        assert_eq!(request(b"GET /health HTTP/1.1\nHost: x\n\n").route, Route::Health);
        assert_eq!(request(b"GET /health HTTP/1.0\n\r\n").route, Route::Health);
    }

    #[test]
    fn malformed_request_lines_are_400() {
        for line in [
            &b"\r\n"[..],
            b"GET /metrics\r\n",
            b"GET  /metrics HTTP/1.1\r\n",
            b"GET /metrics  HTTP/1.1\r\n",
            b" GET /metrics HTTP/1.1\r\n",
            b"GET /metrics HTTP/1.1 \r\n",
            b"GET /me trics HTTP/1.1\r\n",
            b"G(T /metrics HTTP/1.1\r\n",
            b"GET metrics HTTP/1.1\r\n",
            b"GET * HTTP/1.1\r\n",
            b"GET /metrics http/1.1\r\n",
            b"GET /metrics HTTP/1\r\n",
            b"GET /metrics HTTP/1.1x\r\n",
            b"GET /m\xc3\xa9trics HTTP/1.1\r\n",
            b"GET /metrics\tHTTP/1.1\r\n",
            b"GET /metrics HTTP/1.1\r\r\n",
        ] {
            assert_eq!(status(line), Status::BadRequest, "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn other_versions_are_505() {
        assert_eq!(status(b"GET /metrics HTTP/2.0\r\n"), Status::VersionNotSupported);
        assert_eq!(status(b"GET /metrics HTTP/0.9\r\n\r\n"), Status::VersionNotSupported);
    }

    #[test]
    fn malformed_headers_are_400() {
        for header in [
            &b"NoColon"[..],
            b": empty-name",
            b"Bad Name: v",
            b"Name : v",
            b" folded",
            b"\tfolded",
            b"X: a\x00b",
            b"X: a\x7fb",
            b"X: a\rb",
        ] {
            let mut head = b"GET /metrics HTTP/1.0\r\n".to_vec();
            head.extend_from_slice(header);
            head.extend_from_slice(b"\r\n\r\n");
            assert_eq!(status(&head), Status::BadRequest, "{:?}", String::from_utf8_lossy(header));
        }
        // obs-text and tabs are allowed in values.
        assert_eq!(request(b"GET /metrics HTTP/1.0\r\nX-Y:\t\xff\xfe v \r\n\r\n").route, Route::Metrics);
    }

    #[test]
    fn host_is_required_once_in_http_1_1() {
        assert_eq!(status(b"GET /metrics HTTP/1.1\r\n\r\n"), Status::BadRequest);
        assert_eq!(status(b"GET /metrics HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), Status::BadRequest);
        assert_eq!(status(b"GET /metrics HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n"), Status::BadRequest);
        assert_eq!(request(b"GET /metrics HTTP/1.0\r\n\r\n").route, Route::Metrics);
    }

    #[test]
    fn incomplete_heads_wait_but_garbage_fails_early() {
        for partial in [
            &b""[..],
            b"GE",
            b"GET /metrics HTTP/1.1",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n",
            b"GET / HTTP/1.0\r\nX: \xff",
        ] {
            assert_eq!(parse(partial), Parsed::Incomplete, "{:?}", String::from_utf8_lossy(partial));
        }
        assert_eq!(status(b"\x16\x03\x01\x02\x00"), Status::BadRequest); // a TLS ClientHello
        assert_eq!(status(b"GET /\xff"), Status::BadRequest);
        assert_eq!(status(b"GET / HTTP/1.0\r\nX: \x01"), Status::BadRequest);
    }

    #[test]
    fn size_limits_are_431() {
        assert_eq!(parse_within(b"GET /metrics HTTP/1.0\r\n", 10), Parsed::Done(Err(Status::HeaderFieldsTooLarge)));
        assert_eq!(parse_within(b"GET /metrics HTT", 16), Parsed::Done(Err(Status::HeaderFieldsTooLarge)));
        assert_eq!(parse_within(b"GET /metrics HT", 16), Parsed::Incomplete);
        assert_eq!(parse_within(b"", 0), Parsed::Done(Err(Status::HeaderFieldsTooLarge)));
        let exact = b"GET /metrics HTTP/1.0\r\n\r\n";
        assert!(matches!(parse_within(exact, exact.len()), Parsed::Done(Ok(_))));
        assert_eq!(parse_within(exact, exact.len() - 1), Parsed::Done(Err(Status::HeaderFieldsTooLarge)));
        let mut many = b"GET /metrics HTTP/1.0\r\n".to_vec();
        for _ in 0..=MAX_HEADERS {
            many.extend_from_slice(b"X: y\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse_within(&many, usize::MAX), Parsed::Done(Err(Status::HeaderFieldsTooLarge)));
    }

    #[test]
    fn bodies_are_noticed() {
        assert!(request(b"GET /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\n").has_body);
        assert!(request(b"GET /metrics HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").has_body);
        assert!(!request(b"GET /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n").has_body);
    }

    #[test]
    fn several_accept_headers_combine() {
        let r = request(
            b"GET /metrics HTTP/1.0\r\nAccept: text/plain;q=0.2\r\nAccept: application/openmetrics-text\r\n\r\n",
        );
        assert_eq!(r.format, Format::OpenMetrics);
    }
}
