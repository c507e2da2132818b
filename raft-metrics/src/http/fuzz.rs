//! The fuzzing entry: the server's parser and responder without the sockets. Compiled only for
//! the `endpoint` fuzz target (cargo-fuzz passes `--cfg fuzzing`) and for this crate's tests; it
//! is not part of the public API.

use super::request::{parse_head, Parsed, Site};
use super::response::{render, Response};
use super::{DEFAULT_MAX_REQUEST_BYTES, DEFAULT_PATH};
use crate::Registry;

/// The response the server would write for `request`, everything a client sent before closing
/// its side; empty when the server would close the connection without answering (an incomplete
/// request head). Requests are limited to [`DEFAULT_MAX_REQUEST_BYTES`] and the scrape is at
/// [`DEFAULT_PATH`], with no `Host` allow-list.
///
/// Never panics, whatever the bytes: the fuzz target checks that and that the response is
/// well-formed.
pub fn respond(registry: &Registry, request: &[u8]) -> Vec<u8> {
    match parse_head(request, DEFAULT_MAX_REQUEST_BYTES, &Site::new(DEFAULT_PATH.as_bytes())) {
        Parsed::Incomplete => Vec::new(),
        Parsed::Done(outcome) => {
            let mut response = Response::default();
            render(registry, &outcome, &mut response);
            response.out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small deterministic fuzz: mutate valid requests byte by byte.
        let registry = Registry::new();
        let seeds: [&[u8]; 3] = [
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text;q=0.5\r\nAccept-Encoding: gzip\r\n\r\n",
            b"HEAD /health HTTP/1.0\n\n",
            b"GET http://x/metrics?q HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for seed in seeds {
            for _ in 0..2000 {
                let mut bytes = seed.to_vec();
                for _ in 0..3 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let at = usize::try_from(state % bytes.len() as u64).unwrap();
                    match state >> 60 {
                        0..=9 => bytes[at] = state.to_le_bytes()[4],
                        10..=12 => drop(bytes.remove(at)),
                        _ => bytes.truncate(at),
                    }
                    if bytes.is_empty() {
                        break;
                    }
                }
                let response = respond(&registry, &bytes);
                assert!(response.is_empty() || response.starts_with(b"HTTP/1.1 "));
            }
        }
    }
}
