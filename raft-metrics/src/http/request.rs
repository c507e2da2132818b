//! The HTTP/1.1 request-head grammar (RFC 9112 request line and header fields, strictly) and its
//! limits: the head's length and the number of header lines. Only what the response depends on
//! is kept: method, route, the negotiated format and gzip, and whether a body follows.
//!
//! What is checked beyond the grammar: message framing (RFC 9112 §6.3: a `Content-Length` that is
//! not one decimal number, two different ones, a `Transfer-Encoding` other than `chunked`, or both
//! headers get 400, since a server that cannot tell where the body ends must not answer it), the
//! `Host` field (RFC 9110 §7.2: exactly one in HTTP/1.1, at most one in HTTP/1.0, and an RFC 3986
//! `host [":" port]`), bare CRs (400 at once), and empty lines before the request line (ignored,
//! RFC 9112 §2.2). A request line longer than the limit gets 414, other oversized heads 431.
//!
//! # Why not `httparse`
//!
//! `httparse` (1.10, hyper's parser) was considered and not adopted: it accepts any byte from
//! 0x80 in the request-target (RFC 3986 allows none), it reports every version other than 1.0
//! and 1.1 as the same error as garbage (505 and 400 could no longer be told apart), and its
//! `Partial` result says nothing about which line is unfinished (414 and 431 could not be either).
//! The checks that matter here (framing, `Host`, the allow-list, the limits) would still be ours,
//! over a second scan of its output. The grammar below is a hundred lines that the `endpoint`
//! fuzz target drives, so a dependency would add more than it removes.

use super::negotiate::Negotiation;
use crate::Format;

/// Header lines beyond this many get 431.
const MAX_HEADERS: usize = 64;

/// The status a request earns: the parser refuses with 400, 414, 421, 431 or 505, and rendering
/// picks the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Ok,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    UriTooLong,
    MisdirectedRequest,
    HeaderFieldsTooLarge,
    InternalServerError,
    NotImplemented,
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
            Self::UriTooLong => "414 URI Too Long",
            Self::MisdirectedRequest => "421 Misdirected Request",
            Self::HeaderFieldsTooLarge => "431 Request Header Fields Too Large",
            Self::InternalServerError => "500 Internal Server Error",
            Self::NotImplemented => "501 Not Implemented",
            Self::VersionNotSupported => "505 HTTP Version Not Supported",
        }
    }
}

/// A refused request head: the status, and whether the request was a `HEAD` (whose response
/// carries no body, RFC 9110 §9.3.2, errors included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) status: Status,
    pub(super) head: bool,
}

/// The request's method: GET and HEAD are served; another method RFC 9110 defines (or PATCH)
/// gets 405 on the routes, and a method this server does not know gets 501.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    Get,
    Head,
    /// POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH.
    Other,
    Unknown,
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

/// What the request line says.
#[derive(Debug, Clone, Copy)]
struct RequestLine<'a> {
    method: Method,
    route: Route,
    version: Version,
    /// An absolute-form target's `host [":" port]`.
    authority: Option<&'a [u8]>,
}

/// What the parser needs to know of the server: where the scrape is, and which hosts it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Site {
    /// The scrape's path.
    pub(super) path: Box<[u8]>,
    /// Host names (lower-case, no port, IPv6 literals in brackets) a request must name; `None`
    /// answers any.
    pub(super) allowed_hosts: Option<Box<[Box<[u8]>]>>,
}

impl Site {
    /// The scrape on `path`, any host.
    #[cfg(any(test, fuzzing))]
    pub(super) fn new(path: &[u8]) -> Self {
        Self { path: path.into(), allowed_hosts: None }
    }

    fn allows(&self, host: Option<&[u8]>) -> bool {
        let Some(allowed) = &self.allowed_hosts else { return true };
        host.and_then(host_name).is_some_and(|name| allowed.iter().any(|a| a.eq_ignore_ascii_case(name)))
    }
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
    /// `Content-Length` other than 0, or `Transfer-Encoding: chunked`: input follows that we never
    /// read.
    pub(super) has_body: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Parsed {
    /// No empty line yet, and nothing wrong so far.
    Incomplete,
    Done(Result<Request, Refusal>),
}

/// Parses a request head from the start of `buf`: lines end in LF, optionally preceded by CR
/// (a CR elsewhere is refused); empty lines before the request line are skipped; the head ends at
/// the first empty line after it. Lines already complete are checked even while the head is
/// incomplete, so garbage is refused before the timeout. A head longer than `max` bytes gets 414
/// while in the request line and 431 after it.
pub(super) fn parse_head(buf: &[u8], max: usize, site: &Site) -> Parsed {
    let mut pos = 0;
    loop {
        match buf.get(pos..).unwrap_or_default() {
            [b'\n', ..] => pos += 1,
            [b'\r', b'\n', ..] => pos += 2,
            _ => break,
        }
    }
    let head = buf.get(pos..).unwrap_or_default().starts_with(b"HEAD ");
    let fail = |status| Parsed::Done(Err(Refusal { status, head }));
    let mut start: Option<RequestLine<'_>> = None;
    let mut headers = 0;
    let mut host: Option<&[u8]> = None;
    let mut hosts = 0;
    let mut length: Option<u64> = None;
    let mut codings = 0;
    let mut negotiation = Negotiation::default();
    loop {
        let rest = buf.get(pos..).unwrap_or_default();
        // Past the limit inside the request line, once the target has begun, the target is too long.
        let too_long = || {
            let in_target = start.is_none() && rest.iter().take_while(|&&b| b != b'\n').any(|&b| b == b' ');
            if in_target {
                Status::UriTooLong
            } else {
                Status::HeaderFieldsTooLarge
            }
        };
        let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
            let valid = match start {
                None => rest.iter().all(|&b| b == b' ' || b == b'\r' || b.is_ascii_graphic()),
                Some(_) => rest.iter().all(|&b| !is_forbidden_in_field(b)),
            };
            // No LF follows, so any CR but a last one is bare.
            let bare_cr = rest.split_last().is_some_and(|(_, before)| before.contains(&b'\r'));
            return if !valid || bare_cr {
                fail(Status::BadRequest)
            } else if buf.len() >= max {
                fail(too_long())
            } else {
                Parsed::Incomplete
            };
        };
        let end = pos + newline + 1;
        let line = rest.get(..newline).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.contains(&b'\r') {
            return fail(Status::BadRequest); // a bare CR
        }
        if end > max {
            return fail(too_long());
        }
        pos = end;
        let Some(RequestLine { method, route, version, authority }) = start else {
            match parse_request_line(line, &site.path) {
                Ok(parsed) => start = Some(parsed),
                Err(status) => return fail(status),
            }
            continue;
        };
        if line.is_empty() {
            if hosts > 1 || version == Version::Http11 && hosts == 0 || length.is_some() && codings > 0 {
                return fail(Status::BadRequest);
            }
            // RFC 9112 §3.2.2: an absolute-form target's authority overrides Host.
            if !site.allows(authority.or(host)) {
                return fail(Status::MisdirectedRequest);
            }
            return Parsed::Done(Ok(Request {
                method,
                route,
                format: negotiation.format(),
                gzip: negotiation.gzip(),
                head_len: end,
                has_body: length.is_some_and(|n| n > 0) || codings > 0,
            }));
        }
        headers += 1;
        if headers > MAX_HEADERS {
            return fail(Status::HeaderFieldsTooLarge);
        }
        let Some((name, value)) = parse_header(line) else { return fail(Status::BadRequest) };
        if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            if host_name(value).is_none() {
                return fail(Status::BadRequest);
            }
            host = Some(value);
        } else if name.eq_ignore_ascii_case(b"accept") {
            negotiation.accept(value);
        } else if name.eq_ignore_ascii_case(b"accept-encoding") {
            negotiation.accept_encoding(value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            match (content_length(value), length) {
                (Some(n), None) => length = Some(n),
                (Some(n), Some(old)) if n == old => {}
                _ => return fail(Status::BadRequest),
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Only `chunked`, once: any other coding leaves the body's end unknown.
            for coding in value.split(|&b| b == b',').map(<[u8]>::trim_ascii).filter(|c| !c.is_empty()) {
                codings += 1;
                if !coding.eq_ignore_ascii_case(b"chunked") || codings > 1 {
                    return fail(Status::BadRequest);
                }
            }
            if codings == 0 {
                return fail(Status::BadRequest);
            }
        }
    }
}

/// `1*DIGIT` that fits a `u64`.
fn content_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        let digit = b.is_ascii_digit().then(|| u64::from(b - b'0'))?;
        n.checked_mul(10)?.checked_add(digit)
    })
}

/// `method SP request-target SP HTTP-version`, single spaces, visible ASCII only; with the
/// authority of an absolute-form target.
fn parse_request_line<'a>(line: &'a [u8], metrics_path: &[u8]) -> Result<RequestLine<'a>, Status> {
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
        b"POST" | b"PUT" | b"DELETE" | b"CONNECT" | b"OPTIONS" | b"TRACE" | b"PATCH" => Method::Other,
        _ => Method::Unknown,
    };
    let (route, authority) = route(target, metrics_path).ok_or(Status::BadRequest)?;
    Ok(RequestLine { method, route, version, authority })
}

/// The route of an origin-form (`/path?query`) or absolute-form (`http://host/path`) target, and
/// the latter's authority (which must be a valid `host [":" port]`, without userinfo).
fn route<'a>(target: &'a [u8], metrics_path: &[u8]) -> Option<(Route, Option<&'a [u8]>)> {
    let (path, authority) = if target.starts_with(b"/") {
        (target, None)
    } else {
        let rest =
            strip_prefix_ignore_case(target, b"http://").or_else(|| strip_prefix_ignore_case(target, b"https://"))?;
        let end = rest.iter().position(|&b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
        let (authority, path) = rest.split_at_checked(end)?;
        host_name(authority)?;
        (if path.starts_with(b"/") { path } else { b"/" }, Some(authority))
    };
    let path = path.split(|&b| b == b'?').next().unwrap_or_default();
    let route = if path == metrics_path {
        Route::Metrics
    } else if path == b"/health" {
        Route::Health
    } else {
        Route::NotFound
    };
    Some((route, authority))
}

fn strip_prefix_ignore_case<'a>(bytes: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = bytes.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| bytes.get(prefix.len()..).unwrap_or_default())
}

/// The host of an RFC 3986 `host [":" port]` (what RFC 9110 §7.2 allows in `Host`), without the
/// port; `None` when it is not one. The host is a bracketed IP literal, or a reg-name (which
/// covers IPv4 addresses): unreserved characters, sub-delims and %-escapes, possibly empty. So
/// spaces, controls, `/`, `@`, `?`, `#`, `"`, `<`, `>` and a second colon are refused.
pub(super) fn host_name(authority: &[u8]) -> Option<&[u8]> {
    let (host, port) = if let Some(literal) = authority.strip_prefix(b"[") {
        let close = literal.iter().position(|&b| b == b']')?;
        let inside = literal.get(..close)?;
        if inside.is_empty() || !inside.iter().all(|&b| b == b':' || is_unreserved(b) || is_sub_delim(b)) {
            return None;
        }
        authority.split_at_checked(close + 2)?
    } else {
        let colon = authority.iter().position(|&b| b == b':').unwrap_or(authority.len());
        let (host, port) = authority.split_at_checked(colon)?;
        let mut bytes = host.iter();
        while let Some(&b) = bytes.next() {
            let escaped = b == b'%'
                && bytes.next().is_some_and(u8::is_ascii_hexdigit)
                && bytes.next().is_some_and(u8::is_ascii_hexdigit);
            if !(escaped || is_unreserved(b) || is_sub_delim(b)) {
                return None;
            }
        }
        (host, port)
    };
    match port {
        [] => Some(host),
        [b':', digits @ ..] if digits.iter().all(u8::is_ascii_digit) => Some(host),
        _ => None,
    }
}

/// RFC 3986 `unreserved`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 `sub-delims`.
fn is_sub_delim(b: u8) -> bool {
    matches!(b, b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=')
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
        parse_head(head, max, &Site::new(DEFAULT_PATH.as_bytes()))
    }

    fn refused(status: Status) -> Parsed {
        Parsed::Done(Err(Refusal { status, head: false }))
    }

    fn request(head: &[u8]) -> Request {
        match parse(head) {
            Parsed::Done(Ok(request)) => request,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(head)),
        }
    }

    fn status(head: &[u8]) -> Status {
        match parse(head) {
            Parsed::Done(Err(refusal)) => refusal.status,
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
        assert_eq!(request(b"PATCH /metrics HTTP/1.0\r\n\r\n").method, Method::Other);
        assert_eq!(request(b"BREW /metrics HTTP/1.0\r\n\r\n").method, Method::Unknown);
        assert_eq!(request(b"get /metrics HTTP/1.0\r\n\r\n").method, Method::Unknown); // case-sensitive
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
            &b"\r\r\n"[..],
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
        // A request line past the limit: 414 once the target has begun, else 431.
        assert_eq!(parse_within(b"GET /metrics HTTP/1.0\r\n", 10), refused(Status::UriTooLong));
        assert_eq!(parse_within(b"GET /metrics HTT", 16), refused(Status::UriTooLong));
        assert_eq!(parse_within(b"GETGETGETGETGETG", 16), refused(Status::HeaderFieldsTooLarge));
        assert_eq!(parse_within(b"GET /metrics HT", 16), Parsed::Incomplete);
        assert_eq!(parse_within(b"", 0), refused(Status::HeaderFieldsTooLarge));
        let exact = b"GET /metrics HTTP/1.0\r\n\r\n";
        assert!(matches!(parse_within(exact, exact.len()), Parsed::Done(Ok(_))));
        assert_eq!(parse_within(exact, exact.len() - 1), refused(Status::HeaderFieldsTooLarge));
        let long_header = b"GET /metrics HTTP/1.0\r\nX: yyyyyyyy";
        assert_eq!(parse_within(long_header, long_header.len()), refused(Status::HeaderFieldsTooLarge));
        let mut many = b"GET /metrics HTTP/1.0\r\n".to_vec();
        for _ in 0..=MAX_HEADERS {
            many.extend_from_slice(b"X: y\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse_within(&many, usize::MAX), refused(Status::HeaderFieldsTooLarge));
    }

    #[test]
    fn bodies_are_noticed() {
        assert!(request(b"GET /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\n").has_body);
        assert!(request(b"GET /metrics HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").has_body);
        assert!(request(b"GET /metrics HTTP/1.0\r\nTransfer-Encoding: ,Chunked,\r\n\r\n").has_body);
        assert!(!request(b"GET /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n").has_body);
        // The same length twice is one length (RFC 9110 §8.6).
        assert!(request(b"GET /metrics HTTP/1.0\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n").has_body);
        assert!(request(b"GET /metrics HTTP/1.0\r\nContent-Length: 18446744073709551615\r\n\r\n").has_body);
    }

    #[test]
    fn invalid_framing_is_400() {
        for framing in [
            &b"Content-Length: abc"[..],
            b"Content-Length: -1",
            b"Content-Length: +1",
            b"Content-Length: 1.0",
            b"Content-Length: ",
            b"Content-Length: 1 2",
            b"Content-Length: 5, 5",
            b"Content-Length: 18446744073709551616",
            b"Content-Length: 12345678901234567890123",
            b"Content-Length: 5\r\nContent-Length: 6",
            b"Content-Length: 0\r\nContent-Length: 00001",
            b"Transfer-Encoding: gzip",
            b"Transfer-Encoding: gzip, chunked",
            b"Transfer-Encoding: chunked, gzip",
            b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
            b"Transfer-Encoding: identity",
            b"Transfer-Encoding: ",
            b"Transfer-Encoding: chunked\r\nContent-Length: 3",
        ] {
            let mut head = b"GET /metrics HTTP/1.1\r\nHost: x\r\n".to_vec();
            head.extend_from_slice(framing);
            head.extend_from_slice(b"\r\n\r\n");
            assert_eq!(status(&head), Status::BadRequest, "{:?}", String::from_utf8_lossy(framing));
        }
    }

    #[test]
    fn bare_cr_is_400_at_once() {
        // CR-only line ends: refused as soon as the byte after the CR arrives, not at the deadline.
        assert_eq!(status(b"GET /metrics HTTP/1.1\rHost: x\r\r"), Status::BadRequest);
        assert_eq!(status(b"GET /metrics HTTP/1.1\rH"), Status::BadRequest);
        assert_eq!(status(b"GET /metrics HTTP/1.1\r\nHost: x\rX"), Status::BadRequest);
        assert_eq!(status(b"\r\r\n"), Status::BadRequest);
        assert_eq!(parse(b"GET /metrics HTTP/1.1\r"), Parsed::Incomplete);
        assert_eq!(parse(b"GET /metrics HTTP/1.1\r\nHost: x\r"), Parsed::Incomplete);
    }

    #[test]
    fn empty_lines_before_the_request_line_are_ignored() {
        assert_eq!(request(b"\r\nGET /health HTTP/1.0\r\n\r\n").route, Route::Health);
        assert_eq!(request(b"\n\r\n\r\nHEAD /health HTTP/1.0\r\n\r\n").method, Method::Head);
        for partial in [&b"\r\n"[..], b"\r\n\r", b"\n\n"] {
            assert_eq!(parse(partial), Parsed::Incomplete, "{partial:?}");
        }
        // Not blank: a space.
        assert_eq!(status(b" \r\nGET /health HTTP/1.0\r\n\r\n"), Status::BadRequest);
    }

    #[test]
    fn host_must_be_an_authority() {
        for host in
            ["localhost", "LocalHost:9898", "127.0.0.1:80", "[::1]:9898", "[v1.x]", "a-b.c_d~e", "%41x", "", "h:"]
        {
            let head = format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\n\r\n");
            assert_eq!(request(head.as_bytes()).route, Route::Metrics, "{host:?}");
        }
        for host in [
            "a b",
            "a/b",
            "user@host",
            "a?b",
            "a#b",
            "a:b:c",
            "a:x",
            "[::1",
            "[]",
            "[::1]x",
            "%4",
            "%zz",
            "\"q\"",
            "<a>",
            "a\tb",
            "a\\b",
            "\u{e9}",
        ] {
            let head = format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\n\r\n");
            assert_eq!(status(head.as_bytes()), Status::BadRequest, "{host:?}");
        }
        // Absolute-form targets' authorities too.
        assert_eq!(status(b"GET http://u@h/metrics HTTP/1.1\r\nHost: h\r\n\r\n"), Status::BadRequest);
        assert_eq!(request(b"GET http://h:1?x HTTP/1.0\r\n\r\n").route, Route::NotFound);
    }

    #[test]
    fn the_host_allow_list_answers_421() {
        let site = Site {
            path: b"/metrics"[..].into(),
            allowed_hosts: Some(vec![b"localhost"[..].into(), b"[::1]"[..].into()].into()),
        };
        let outcome = |head: &[u8]| match parse_head(head, DEFAULT_MAX_REQUEST_BYTES, &site) {
            Parsed::Done(Ok(_)) => None,
            Parsed::Done(Err(refusal)) => Some(refusal),
            Parsed::Incomplete => panic!("incomplete"),
        };
        for allowed in [
            &b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            b"GET /metrics HTTP/1.1\r\nHost: LOCALHOST:9898\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nHost: [::1]:1\r\n\r\n",
            b"GET http://localhost/metrics HTTP/1.1\r\nHost: evil.example\r\n\r\n",
        ] {
            assert_eq!(outcome(allowed), None, "{:?}", String::from_utf8_lossy(allowed));
        }
        for refused in [
            &b"GET /metrics HTTP/1.1\r\nHost: evil.example\r\n\r\n"[..],
            b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            b"GET /metrics HTTP/1.0\r\n\r\n",
            b"GET http://evil.example/metrics HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ] {
            let got = outcome(refused).map(|r| r.status);
            assert_eq!(got, Some(Status::MisdirectedRequest), "{:?}", String::from_utf8_lossy(refused));
        }
        assert_eq!(
            outcome(b"HEAD /health HTTP/1.1\r\nHost: evil\r\n\r\n"),
            Some(Refusal { status: Status::MisdirectedRequest, head: true })
        );
    }

    #[test]
    fn refusals_of_head_requests_say_so() {
        for head in [
            &b"HEAD /metrics HTTP/1.1\r\n\r\n"[..],
            b"\r\nHEAD /metrics HTTP/1.1\r\nBad Header\r\n\r\n",
            b"HEAD /metrics HTTP/2.0\r\n",
        ] {
            assert!(matches!(parse(head), Parsed::Done(Err(Refusal { head: true, .. }))), "{head:?}");
        }
        assert!(matches!(parse(b"GET /metrics HTTP/1.1\r\n\r\n"), Parsed::Done(Err(Refusal { head: false, .. }))));
    }

    #[test]
    fn several_accept_headers_combine() {
        let r = request(
            b"GET /metrics HTTP/1.0\r\nAccept: text/plain;q=0.2\r\nAccept: application/openmetrics-text\r\n\r\n",
        );
        assert_eq!(r.format, Format::OpenMetrics);
    }
}
