// Found by the `endpoint` fuzz target (input: base64 in `endpoint-404-without-body`, the request
// `X / HTTP/1.0\n\n`; replay with `base64 -d fuzz/regressions/endpoint-404-without-body > /tmp/in &&
//  cargo fuzz run --sanitizer none endpoint /tmp/in`).
//
// `render` (raft-metrics/src/http/response.rs) computes `body = request.method == Method::Get` and
// passes it to `render_text` for the 404, so a 404 to any method other than GET or HEAD (POST, PUT,
// an unknown token) announces `Content-Length: 10` and sends no body; a client waits for 10 bytes
// that never come (curl: "transfer closed with 10 bytes remaining to read"). Only HEAD may omit it.
// Since issue #15 an unknown method such as `X` gets 501 Not Implemented (RFC 9110 §9.1), with its
// body too; `POST /nope` still gets 404. Both cases are in response.rs's `responses` test.
// A unit test for raft-metrics/src/http/response.rs `mod tests` (`respond`: `http::fuzz::respond`),
// as it was when found:
#[test]
fn not_found_to_other_methods_carries_its_body() {
    let registry = Registry::new();
    for request in [&b"POST /nope HTTP/1.1\r\nHost: a\r\n\r\n"[..], b"X / HTTP/1.0\n\n"] {
        let response = respond(&registry, request);
        let text = String::from_utf8(response).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 "), "{text}");
        assert!(text.ends_with("\r\n\r\nnot found\n"), "{text}"); // fails: no body
    }
}
