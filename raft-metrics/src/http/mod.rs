//! A small blocking HTTP/1.1 server for `GET /metrics` (feature `http`), safe to embed in a Raft
//! node: a fixed number of threads, a cap on connections, deadlines on every read and write, a
//! bounded request size, and no panic on any input.
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use raft_metrics::http::Server;
//! use raft_metrics::Registry;
//!
//! let registry = Arc::new(Registry::new());
//! registry.counter("raft_elections_total", "Elections started.")?.inc();
//!
//! let server = Server::builder()
//!     .bind("127.0.0.1:0") // port 0: the OS picks one; see `local_addr`
//!     .registry(Arc::clone(&registry))
//!     .read_timeout(Duration::from_secs(2))
//!     .start()?;
//!
//! let mut client = TcpStream::connect(server.local_addr())?;
//! client.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
//! let mut response = String::new();
//! client.read_to_string(&mut response)?;
//! assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(response.ends_with("raft_elections_total 1\n"));
//!
//! server.shutdown(); // stops accepting and joins every thread
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Routes
//!
//! | request | response |
//! |---|---|
//! | `GET /metrics` | 200, the scrape ([`Registry::encode`](crate::Registry::encode)); 500 if encoding panics |
//! | `HEAD /metrics` | 200, the headers of the scrape without `Content-Length` (see below) |
//! | `GET /health`, `HEAD /health` | 200, `ok` |
//! | a method this server does not know (not GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH) | 501 |
//! | any other path | 404 |
//! | another known method on `/metrics` or `/health` | 405, `Allow: GET, HEAD` |
//! | a malformed request line or header; a bare CR (not followed by LF); HTTP/1.1 without `Host`, or two `Host`s; a `Host` (or absolute-form authority) that is not an RFC 3986 `host [":" port]` | 400 |
//! | framing the server cannot trust (RFC 9112 §6.3): a `Content-Length` that is not one decimal number fitting 64 bits, two different ones, a `Transfer-Encoding` other than a single `chunked`, or both headers | 400 |
//! | a request line longer than `max_request_bytes` | 414 |
//! | a `Host` not in [`allowed_hosts`](Builder::allowed_hosts), when set (or no `Host`) | 421 |
//! | a longer request head, or more than 64 header lines | 431 |
//! | an HTTP version other than 1.0 or 1.1 | 505 |
//! | a connection beyond `max_connections`, or beyond `max_connections_per_ip` from one address | 503, written without blocking, then closed |
//!
//! Empty lines before the request line are ignored (RFC 9112 §2.2). The query string is ignored;
//! a request body is never read. Every response carries `Date` (an IMF-fixdate) and
//! `Connection: close`, and the connection closes after one response; every response but a 200 to
//! `HEAD /metrics` carries `Content-Length`. No response to `HEAD` has a body, errors included
//! (RFC 9110 §9.3.2), except the acceptor's 503, which is written before the request is read.
//!
//! **HEAD.** `HEAD /metrics` does not encode the scrape: the length of a scrape is known only by
//! encoding it, which for a large registry costs as much as a `GET`, so a `HEAD` flood would cost
//! as much as a scrape flood. The response carries the headers a `GET` would (`Content-Type`,
//! `Content-Encoding`, `Vary`) but not `Content-Length`, which RFC 9110 §9.3.2 lets a server omit
//! when it is determined only while generating the content.
//!
//! **Host allow-list.** [`Builder::allowed_hosts`] (off by default) answers only requests whose
//! `Host` (or absolute-form target) names one of the given hosts, port ignored. It is a defence
//! against DNS rebinding: a page in a browser on the node's machine can make a name it controls
//! resolve to 127.0.0.1 and read the loopback endpoint, but the browser sends that name in
//! `Host`. Other hosts get **421 Misdirected Request** rather than 403: RFC 9110 §15.5.20 defines
//! 421 for a request directed at a server that is unable or unwilling to produce an
//! authoritative response for the target URI, which is the case here, whereas 403 says the server
//! understood the request for its own resource and refuses this client, whom no credentials
//! would help.
//!
//! **Content negotiation.** `Accept` selects OpenMetrics 1.0 when it lists
//! `application/openmetrics-text` (with `version=1.0.0` or no version) with a q-value above zero
//! and above the best of `text/plain` (version 0.0.4 or none), `text/*` and `*/*`; otherwise the
//! response is Prometheus text 0.0.4. With the `protobuf` feature, `Accept` selects
//! `Format::Protobuf` when it lists
//! `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`
//! (both parameters required, as client_golang negotiates) with a q-value above zero and above
//! every text choice: what Prometheus sends with native histograms enabled. `Content-Type` is
//! [`Format::content_type`](crate::Format::content_type). The body is
//! gzip-compressed (fastest level) when `Accept-Encoding` accepts `gzip`, `x-gzip` or `*` with a
//! q-value above zero.
//!
//! # Limits and defaults
//!
//! | setting | default | |
//! |---|---|---|
//! | [`bind`](Builder::bind) | `127.0.0.1:9898` | loopback only unless told otherwise |
//! | [`workers`](Builder::workers) | 2 | clamped to `1..=`[`MAX_WORKERS`]; plus one acceptor thread |
//! | [`max_connections`](Builder::max_connections) | 64 | connections being served or queued; at least 1 |
//! | [`max_connections_per_ip`](Builder::max_connections_per_ip) | 8 | the same, per client IP address; at least 1 |
//! | [`first_byte_timeout`](Builder::first_byte_timeout) | 1 s | first byte of the request, counted from `accept`; at most `read_timeout` |
//! | [`read_timeout`](Builder::read_timeout) | 5 s | whole request head, counted from `accept` |
//! | [`write_timeout`](Builder::write_timeout) | 10 s | whole response; then waiting for the client to close |
//! | [`max_request_bytes`](Builder::max_request_bytes) | 8 KiB | request line plus headers |
//! | [`allowed_hosts`](Builder::allowed_hosts) | any | `Host` names answered |
//!
//! Timeouts are clamped to 1 ms..=1 day. A worker serves one connection at a time, so a client
//! that sends nothing holds a worker for at most `first_byte_timeout`, and one that trickles bytes
//! for at most `read_timeout` (the deadline covers the whole head, not each `read`). A queued
//! connection's deadlines also run from `accept`: once a worker reaches it, it gets what is left,
//! or 20 ms if that is less, which is enough for a request already in the socket buffer; so a
//! burst of idle connections drains in milliseconds each. One address holds at most
//! `max_connections_per_ip` places, so a client re-opening idle connections in a loop cannot take
//! the `max_connections` other clients need (behind a reverse proxy every client has the proxy's
//! address: raise the per-address cap there).
//!
//! After writing the response, the worker half-closes the connection and reads, and discards,
//! whatever the client still sends until the client closes, for at most the rest of
//! `write_timeout` (and at least 500 ms, if `write_timeout` is that long): closing a socket with
//! unread input resets the connection, and a reset destroys response bytes the client has not
//! read yet, so a stray byte after the request could cut a large scrape short. A response that
//! is not taken within `write_timeout` is cut short with a reset (`SO_LINGER` 0), so that the
//! client sees an error rather than a clean end of stream on a truncated body, and the kernel
//! drops the unsent rest instead of sending it.
//!
//! Memory: each worker keeps its buffers (request head, scrape, gzip copy, response) between
//! requests, so it holds about twice the largest scrape it served.
//!
//! A panic while encoding (say, in a collector) becomes a 500, and a panic anywhere in a
//! connection's handling costs that connection only; the worker thread goes on.
//!
//! # Shutdown
//!
//! [`Server::shutdown`] (or dropping the [`Server`]) sets a stop flag, wakes the acceptor with a
//! loopback connection to its own port, shuts down the sockets being served (so no worker waits
//! out a timeout), and joins every thread; queued connections are closed unanswered. If the
//! wake-up connection cannot be made within one second (the listen backlog full, a firewall),
//! the threads are left to exit at the acceptor's next `accept` rather than block the caller.
//!
//! # Why `std::net` and not `tiny_http`
//!
//! `tiny_http` 0.12 cannot meet these limits: its task pool starts a new thread for each
//! connection whenever no pooled thread is idle (no upper bound), it sets no read or write
//! timeout on accepted sockets and offers no hook to set them, it reads a request line or
//! header line into a growing buffer with no length limit, and its accept thread is detached
//! rather than joined. The subset of HTTP/1.1 needed here (one request per connection, no
//! body, fixed-length responses) is a few hundred lines on `std::net`, with a strict parser
//! that the `endpoint` fuzz target drives without sockets (why not `httparse`: see
//! `request.rs`). `socket2` sets `SO_LINGER` (std's `set_linger` is unstable) and `httpdate`
//! formats `Date`.
//!
//! # Self-metrics
//!
//! The server does not register metrics of its own in the served registry: that would change
//! every scrape (tests compare bodies byte for byte) and could collide with the user's names.

// One file per job. The arrows are the only imports between them (besides the constants below),
// so none imports another in a circle:
//   server     lifecycle: bind, acceptor, workers, shutdown         -> connection, response
//   connection one socket: read the head, write, drain or reset, by deadline -> request, response
//   request    the request-head grammar and its limits               -> negotiate
//   negotiate  Accept and Accept-Encoding -> format and gzip
//   response   status lines, the scrape, gzip                        -> request
//   fuzz       the parser and responder without sockets              -> request, response
mod connection;
mod endpoints;
mod negotiate;
mod request;
mod response;
mod server;

// Not public API: compiled for this crate's tests and for the `endpoint` fuzz target only.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzz;

pub use endpoints::Endpoints;
pub use server::{Builder, Server};

/// The port [`Builder`] binds when [`Builder::bind`] is not called (on `127.0.0.1`).
pub const DEFAULT_PORT: u16 = 9898;

/// The path the scrape is served on unless [`Builder::path`] says otherwise.
pub const DEFAULT_PATH: &str = "/metrics";

/// The most worker threads a server runs; [`Builder::workers`] clamps to it.
pub const MAX_WORKERS: usize = 4;

/// The default for [`Builder::max_request_bytes`]; also the limit the fuzzing entry applies.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 8 * 1024;
