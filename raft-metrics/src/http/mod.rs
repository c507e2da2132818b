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
//! | `GET /metrics`, `HEAD /metrics` | 200, the scrape ([`Registry::encode`](crate::Registry::encode)) |
//! | `GET /health`, `HEAD /health` | 200, `ok` |
//! | any other path | 404 |
//! | another method on `/metrics` or `/health` | 405, `Allow: GET, HEAD` |
//! | a malformed request line or header, HTTP/1.1 without exactly one `Host` | 400 |
//! | a request head longer than `max_request_bytes`, or more than 64 header lines | 431 |
//! | an HTTP version other than 1.0 or 1.1 | 505 |
//! | a connection beyond `max_connections` | 503, written without blocking, then closed |
//!
//! The query string is ignored; a request body is never read. Every response carries
//! `Content-Length` and `Connection: close`, and the connection closes after one response.
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
//! | [`read_timeout`](Builder::read_timeout) | 5 s | whole request head, counted from `accept` |
//! | [`write_timeout`](Builder::write_timeout) | 10 s | whole response |
//! | [`max_request_bytes`](Builder::max_request_bytes) | 8 KiB | request line plus headers |
//!
//! Timeouts are clamped to 1 ms..=1 day. A worker serves one connection at a time, so a client
//! that sends nothing holds a worker for at most `read_timeout`, however slowly it trickles
//! bytes (the deadline covers the whole head, not each `read`). A queued connection's deadline
//! also runs from `accept`: once a worker reaches it, it gets what is left, or 20 ms if that is
//! less, which is enough for a request already in the socket buffer; so a burst of idle
//! connections drains in milliseconds each instead of `read_timeout` each. After an error
//! response, or when a request carried a body, the worker half-closes and drains up to 64 KiB
//! for up to 500 ms, so that closing does not reset the connection before the client has read
//! the response.
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
//! that the `endpoint` fuzz target drives without sockets.
//!
//! # Self-metrics
//!
//! The server does not register metrics of its own in the served registry: that would change
//! every scrape (tests compare bodies byte for byte) and could collide with the user's names.

// One file per job. The arrows are the only imports between them (besides the constants below),
// so none imports another in a circle:
//   server     lifecycle: bind, acceptor, workers, shutdown         -> connection, response
//   connection one socket: read the head, write, linger, by deadline -> request, response
//   request    the request-head grammar and its limits               -> negotiate
//   negotiate  Accept and Accept-Encoding -> format and gzip
//   response   status lines, the scrape, gzip                        -> request
//   fuzz       the parser and responder without sockets              -> request, response
mod connection;
mod negotiate;
mod request;
mod response;
mod server;

// Not public API: compiled for this crate's tests and for the `endpoint` fuzz target only.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzz;

pub use server::{Builder, Server};

/// The port [`Builder`] binds when [`Builder::bind`] is not called (on `127.0.0.1`).
pub const DEFAULT_PORT: u16 = 9898;

/// The path the scrape is served on unless [`Builder::path`] says otherwise.
pub const DEFAULT_PATH: &str = "/metrics";

/// The most worker threads a server runs; [`Builder::workers`] clamps to it.
pub const MAX_WORKERS: usize = 4;

/// The default for [`Builder::max_request_bytes`]; also the limit the fuzzing entry applies.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 8 * 1024;
