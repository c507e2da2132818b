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
//! | `GET /metrics`, `HEAD /metrics` | 200, the scrape ([`Registry::encode`]) |
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
//! [`Format::content_type`]. The body is
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
//! that [`respond_to_bytes`] exposes to fuzzing.
//!
//! # Self-metrics
//!
//! The server does not register metrics of its own in the served registry: that would change
//! every scrape (tests compare bodies byte for byte) and could collide with the user's names.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::sync::{AtomicBool, AtomicUsize, Mutex, Ordering};
use crate::{Format, Registry};

/// The port [`Builder`] binds when [`Builder::bind`] is not called (on `127.0.0.1`).
pub const DEFAULT_PORT: u16 = 9898;

/// The path the scrape is served on unless [`Builder::path`] says otherwise.
pub const DEFAULT_PATH: &str = "/metrics";

/// The most worker threads a server runs; [`Builder::workers`] clamps to it.
pub const MAX_WORKERS: usize = 4;

/// The default for [`Builder::max_request_bytes`]; also the limit [`respond_to_bytes`] applies.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 8 * 1024;

/// Header lines beyond this many get 431.
const MAX_HEADERS: usize = 64;
/// The least read time a queued connection gets once a worker takes it.
const QUEUED_GRACE: Duration = Duration::from_millis(20);
/// How long, and how much, to drain a connection before closing it with unread input.
const LINGER_TIME: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 64 * 1024;
/// How long `shutdown` waits to connect to its own listener.
const WAKE_TIMEOUT: Duration = Duration::from_secs(1);
/// The acceptor's pause after an error such as `EMFILE`, so it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
const MIN_TIMEOUT: Duration = Duration::from_millis(1);
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// What a connection beyond `max_connections` gets.
const BUSY_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Length: 20\r\nRetry-After: 1\r\nConnection: close\r\n\r\nservice unavailable\n";
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// The registry a [`Server`] scrapes: a `&'static Registry` (such as [`Registry::global`], the
/// default) or an `Arc<Registry>`.
#[derive(Debug, Clone)]
pub struct RegistryRef(Source);

#[derive(Debug, Clone)]
enum Source {
    Static(&'static Registry),
    Shared(Arc<Registry>),
}

impl RegistryRef {
    fn get(&self) -> &Registry {
        match &self.0 {
            Source::Static(registry) => registry,
            Source::Shared(registry) => registry,
        }
    }
}

impl Default for RegistryRef {
    /// [`Registry::global`].
    fn default() -> Self {
        Self(Source::Static(Registry::global()))
    }
}

impl From<&'static Registry> for RegistryRef {
    fn from(registry: &'static Registry) -> Self {
        Self(Source::Static(registry))
    }
}

impl From<Arc<Registry>> for RegistryRef {
    fn from(registry: Arc<Registry>) -> Self {
        Self(Source::Shared(registry))
    }
}

#[derive(Debug, Clone, Copy)]
struct Config {
    workers: usize,
    max_connections: usize,
    read_timeout: Duration,
    write_timeout: Duration,
    max_request_bytes: usize,
}

/// Configures and starts a [`Server`]; see the [module docs](self) for the defaults.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let server = raft_metrics::http::Server::builder()
///     .bind("127.0.0.1:0")
///     .max_connections(16)
///     .read_timeout(Duration::from_secs(1))
///     .start()?;
/// assert_ne!(server.local_addr().port(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct Builder {
    addrs: io::Result<Vec<SocketAddr>>,
    registry: RegistryRef,
    config: Config,
    path: String,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// A builder with the defaults: `127.0.0.1:9898`, [`Registry::global`], 2 workers, 64
    /// connections, 5 s to read a request, 10 s to write a response, 8 KiB of request head.
    pub fn new() -> Self {
        Self {
            addrs: Ok(vec![SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_PORT))]),
            registry: RegistryRef::default(),
            config: Config {
                workers: 2,
                max_connections: 64,
                read_timeout: Duration::from_secs(5),
                write_timeout: Duration::from_secs(10),
                max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            },
            path: DEFAULT_PATH.to_owned(),
        }
    }

    /// The path the scrape is served on (default `/metrics`); `/health` stays where it is.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The address to listen on; the first of `addr`'s addresses that binds is used. Port 0
    /// lets the OS choose (read it back with [`Server::local_addr`]).
    ///
    /// Names are resolved now; a resolution error is returned by [`Builder::start`].
    pub fn bind(mut self, addr: impl ToSocketAddrs) -> Self {
        self.addrs = addr.to_socket_addrs().map(Iterator::collect);
        self
    }

    /// The registry to serve: `&'static Registry` or `Arc<Registry>`.
    pub fn registry(mut self, registry: impl Into<RegistryRef>) -> Self {
        self.registry = registry.into();
        self
    }

    /// Worker threads, each serving one connection at a time; clamped to `1..=`[`MAX_WORKERS`].
    pub fn workers(mut self, workers: usize) -> Self {
        self.config.workers = workers.clamp(1, MAX_WORKERS);
        self
    }

    /// Connections being served or waiting for a worker; the acceptor answers any beyond with
    /// a non-blocking 503 and closes them. At least 1.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.config.max_connections = max.max(1);
        self
    }

    /// The time a client has, from `accept`, to send its whole request head; clamped to
    /// 1 ms..=1 day. A client that runs out is disconnected without a response.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.config.read_timeout = timeout.clamp(MIN_TIMEOUT, MAX_TIMEOUT);
        self
    }

    /// The time a client has to take the whole response; clamped to 1 ms..=1 day.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.config.write_timeout = timeout.clamp(MIN_TIMEOUT, MAX_TIMEOUT);
        self
    }

    /// The longest request head (request line and headers, with line ends) accepted; a longer
    /// one gets 431.
    pub fn max_request_bytes(mut self, max: usize) -> Self {
        self.config.max_request_bytes = max;
        self
    }

    /// Binds the listener and starts the acceptor and worker threads.
    ///
    /// # Errors
    ///
    /// The error of resolving the address given to [`Builder::bind`], of binding it, or of
    /// spawning a thread (threads already started are stopped and joined first).
    pub fn start(self) -> io::Result<Server> {
        let addrs = self.addrs?;
        let path_ok = self.path.starts_with('/')
            && self.path != "/health"
            && self.path.bytes().all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#');
        if !path_ok {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the metrics path must start with / and hold no query",
            ));
        }
        let listener = TcpListener::bind(&addrs[..])?;
        let local_addr = listener.local_addr()?;
        let config = self.config;
        let slots: Vec<Arc<Slot>> = (0..config.workers).map(|_| Arc::new(Mutex::new(None))).collect();
        let shared = Arc::new(Shared {
            registry: self.registry,
            config,
            path: self.path.into_bytes().into_boxed_slice(),
            stop: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            slots: slots.clone(),
        });
        // The channel never fills: the acceptor admits at most `max_connections` at once.
        let (sender, receiver) = mpsc::sync_channel(config.max_connections);
        let receiver = Arc::new(Mutex::new(receiver));
        let mut workers = Vec::with_capacity(config.workers);
        for (index, slot) in slots.into_iter().enumerate() {
            let (shared, receiver) = (Arc::clone(&shared), Arc::clone(&receiver));
            let spawned = thread::Builder::new()
                .name(format!("raft-metrics-http-{index}"))
                .spawn(move || run_worker(&shared, &slot, &receiver));
            match spawned {
                Ok(handle) => workers.push(handle),
                Err(error) => {
                    drop(sender); // disconnects the queue: the started workers return
                    join_all(workers);
                    return Err(error);
                }
            }
        }
        let acceptor = {
            let shared = Arc::clone(&shared);
            // On error the closure, and with it the sender, is dropped: the workers return.
            thread::Builder::new()
                .name("raft-metrics-http-accept".to_owned())
                .spawn(move || run_acceptor(&shared, &listener, &sender))
        };
        match acceptor {
            Ok(acceptor) => Ok(Server { local_addr, shared, acceptor: Some(acceptor), workers }),
            Err(error) => {
                join_all(workers);
                Err(error)
            }
        }
    }
}

/// A running `/metrics` server; dropping it shuts it down.
///
/// It runs one acceptor thread plus [`Builder::workers`] worker threads; see the
/// [module docs](self) for the protocol and the limits.
#[must_use = "the server shuts down when this handle is dropped"]
pub struct Server {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl Server {
    /// A [`Builder`] with the defaults.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// The address the server listens on, with the port the OS chose if it was bound to 0.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, closes the connections being served or queued, and joins every thread.
    ///
    /// Returns within about a second even if the acceptor cannot be woken (see the
    /// [module docs](self#shutdown)).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(acceptor) = self.acceptor.take() else { return };
        // Release: pairs with the Acquire loads in the acceptor (after `accept` returns the
        // wake-up connection made below) and in the workers (under their slot locks).
        self.shared.stop.store(true, Ordering::Release);
        let woke = TcpStream::connect_timeout(&wake_addr(self.local_addr), WAKE_TIMEOUT).is_ok();
        for slot in &self.shared.slots {
            // A worker fills its slot only after checking `stop` under this lock, so every
            // connection being served is either seen here or never started.
            if let Some(stream) = slot.lock().as_ref() {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
        if !woke {
            // The acceptor is blocked in `accept` until some client connects; do not wait for it.
            self.workers.clear();
            return;
        }
        let _ = acceptor.join();
        join_all(core::mem::take(&mut self.workers));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn join_all(threads: Vec<JoinHandle<()>>) {
    for thread in threads {
        let _ = thread.join();
    }
}

/// Where to connect to reach a listener bound to `addr` (the unspecified address becomes loopback).
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// The connection a worker is serving, so that `stop` can shut it down.
type Slot = Mutex<Option<Arc<TcpStream>>>;

struct Shared {
    registry: RegistryRef,
    config: Config,
    /// The scrape's path.
    path: Box<[u8]>,
    stop: AtomicBool,
    /// Connections admitted and not yet closed. Only the acceptor increments it, so checking
    /// then incrementing cannot overshoot. Relaxed: a count that only limits admission and
    /// publishes no memory.
    in_flight: AtomicUsize,
    slots: Vec<Arc<Slot>>,
}

struct Connection {
    stream: TcpStream,
    accepted: Instant,
}

fn run_acceptor(shared: &Shared, listener: &TcpListener, queue: &SyncSender<Connection>) {
    loop {
        let accepted = listener.accept();
        if shared.stop.load(Ordering::Acquire) {
            return; // dropping the sender (with this thread) disconnects the workers
        }
        match accepted {
            Ok((stream, _)) => admit(shared, queue, stream),
            Err(error) if is_transient(&error) => {}
            // Out of descriptors or buffers: back off instead of spinning; nothing to do better.
            Err(_) => thread::sleep(ACCEPT_BACKOFF),
        }
    }
}

fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

fn admit(shared: &Shared, queue: &SyncSender<Connection>, stream: TcpStream) {
    if shared.in_flight.load(Ordering::Relaxed) >= shared.config.max_connections {
        refuse(&stream);
        return;
    }
    shared.in_flight.fetch_add(1, Ordering::Relaxed);
    if let Err(TrySendError::Full(refused) | TrySendError::Disconnected(refused)) =
        queue.try_send(Connection { stream, accepted: Instant::now() })
    {
        shared.in_flight.fetch_sub(1, Ordering::Relaxed);
        refuse(&refused.stream);
    }
}

/// Answers 503 without ever blocking the acceptor, then closes.
fn refuse(stream: &TcpStream) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    // A fresh socket's send buffer is empty, so this short write completes at once.
    let mut socket = stream;
    let _ = socket.write(BUSY_RESPONSE);
    let _ = stream.shutdown(Shutdown::Write);
    // Read what already arrived, so that closing is less likely to reset the connection
    // before the client reads the 503.
    let mut sink = [0u8; 1024];
    for _ in 0..8 {
        if !matches!(socket.read(&mut sink), Ok(n) if n > 0) {
            break;
        }
    }
}

fn run_worker(shared: &Shared, slot: &Slot, queue: &Mutex<Receiver<Connection>>) {
    let mut scratch = Scratch::default();
    loop {
        // The queue lock is released at the end of this statement.
        let next = queue.lock().recv();
        let Ok(connection) = next else { return };
        let stream = Arc::new(connection.stream);
        let admitted = {
            let mut slot = slot.lock();
            // Acquire, under the slot lock: `stop` either sees this slot filled or we see the
            // flag (see `Server::stop`). Queued connections are closed unanswered on shutdown.
            let stopping = shared.stop.load(Ordering::Acquire);
            if !stopping {
                *slot = Some(Arc::clone(&stream));
            }
            !stopping
        };
        if admitted {
            let served = catch_unwind(AssertUnwindSafe(|| serve(shared, &stream, connection.accepted, &mut scratch)));
            if served.is_err() {
                scratch = Scratch::default();
            }
            *slot.lock() = None;
        }
        drop(stream); // the last reference: closes the socket
        shared.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Buffers a worker reuses from one connection to the next.
#[derive(Default)]
struct Scratch {
    request: Vec<u8>,
    response: Response,
}

#[derive(Default)]
struct Response {
    scrape: Vec<u8>,
    gzip: Vec<u8>,
    out: Vec<u8>,
}

fn serve(shared: &Shared, stream: &TcpStream, accepted: Instant, scratch: &mut Scratch) {
    let config = &shared.config;
    let _ = stream.set_nodelay(true); // the response goes out in one write; do not hold its tail
    let now = Instant::now();
    let deadline = after(accepted, config.read_timeout).max(after(now, config.read_timeout.min(QUEUED_GRACE)));
    let Some(outcome) = read_head(stream, &mut scratch.request, config.max_request_bytes, &shared.path, deadline)
    else {
        return; // timed out, closed by the client, or a socket error: nothing to answer
    };
    render(shared.registry.get(), &outcome, &mut scratch.response);
    if write_by(stream, &scratch.response.out, after(Instant::now(), config.write_timeout)).is_err() {
        return;
    }
    let _ = stream.shutdown(Shutdown::Write);
    let unread_input = match &outcome {
        Ok(request) => request.has_body || scratch.request.len() > request.head_len,
        Err(_) => true,
    };
    if unread_input {
        linger(stream, after(Instant::now(), config.read_timeout.min(LINGER_TIME)));
    }
}

fn after(instant: Instant, duration: Duration) -> Instant {
    // Timeouts are clamped to a day, so this never falls back in practice.
    instant.checked_add(duration).unwrap_or(instant)
}

/// Reads until the head parses (or fails to); `None` when the client closed, went silent past
/// `deadline`, or the socket failed.
fn read_head(
    stream: &TcpStream,
    buf: &mut Vec<u8>,
    max: usize,
    path: &[u8],
    deadline: Instant,
) -> Option<Result<Request, Status>> {
    buf.clear();
    let mut socket = stream;
    let mut chunk = [0u8; 4096];
    let mut parse = true;
    loop {
        if parse {
            if let Parsed::Done(outcome) = parse_head_at(buf, max, path) {
                return Some(outcome);
            }
        }
        // `parse_head` answers 431 at `max`, so there is room here; the guard keeps it panic-free.
        let room = max.saturating_sub(buf.len()).min(chunk.len());
        let remaining = deadline.saturating_duration_since(Instant::now());
        if room == 0 || remaining.is_zero() || stream.set_read_timeout(Some(remaining)).is_err() {
            return None;
        }
        let read = match socket.read(&mut chunk[..room]) {
            Ok(0) => return None,
            Ok(n) => chunk.get(..n).unwrap_or_default(),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        buf.extend_from_slice(read);
        // Re-parse only when a line may have ended or a byte may be invalid: a client
        // trickling one byte at a time costs one scan per line, not per byte.
        parse =
            buf.len() >= max || read.iter().any(|&b| b == b'\n' || b < 0x20 && b != b'\t' && b != b'\r' || b >= 0x7f);
    }
}

/// Writes all of `data` before `deadline`.
fn write_by(stream: &TcpStream, mut data: &[u8], deadline: Instant) -> io::Result<()> {
    let mut socket = stream;
    while !data.is_empty() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_write_timeout(Some(remaining))?;
        match socket.write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = data.get(n..).unwrap_or_default(),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Discards input until the client closes, [`LINGER_BYTES`] or `deadline`.
fn linger(stream: &TcpStream, deadline: Instant) {
    let mut socket = stream;
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() || stream.set_read_timeout(Some(remaining)).is_err() {
            return;
        }
        match socket.read(&mut sink) {
            Ok(0) => return,
            Ok(n) => drained += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// The response the server would write for `request`, everything a client sent before closing
/// its side; empty when the server would close the connection without answering (an incomplete
/// request head). Requests are limited to [`DEFAULT_MAX_REQUEST_BYTES`].
///
/// Never panics; this is the server's parser and responder without the sockets, for fuzzing.
#[doc(hidden)]
pub fn respond_to_bytes(registry: &Registry, request: &[u8]) -> Vec<u8> {
    match parse_head(request, DEFAULT_MAX_REQUEST_BYTES) {
        Parsed::Incomplete => Vec::new(),
        Parsed::Done(outcome) => {
            let mut response = Response::default();
            render(registry, &outcome, &mut response);
            response.out
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    HeaderFieldsTooLarge,
    InternalServerError,
    VersionNotSupported,
}

impl Status {
    fn code_and_reason(self) -> &'static str {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Head,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
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
struct Request {
    method: Method,
    route: Route,
    format: Format,
    gzip: bool,
    /// Bytes up to and including the empty line.
    head_len: usize,
    /// `Content-Length` other than 0, or `Transfer-Encoding`: input follows that we never read.
    has_body: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    /// No empty line yet, and nothing wrong so far.
    Incomplete,
    Done(Result<Request, Status>),
}

/// Parses a request head from the start of `buf`: lines end in LF, optionally preceded by CR;
/// the head ends at the first empty line. Lines already complete are checked even while the
/// head is incomplete, so garbage is refused before the timeout.
fn parse_head(buf: &[u8], max: usize) -> Parsed {
    parse_head_at(buf, max, DEFAULT_PATH.as_bytes())
}

/// [`parse_head`] with the scrape served on `path`.
fn parse_head_at(buf: &[u8], max: usize, path: &[u8]) -> Parsed {
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

/// The best q-values (in thousandths) the request gave each choice.
#[derive(Debug, Default, Clone, Copy)]
struct Negotiation {
    openmetrics: u16,
    text: u16,
    #[cfg(feature = "protobuf")]
    protobuf: u16,
    gzip: Option<u16>,
    any_encoding: Option<u16>,
}

impl Negotiation {
    /// Folds in one `Accept` value. Ranges with a malformed parameter or q-value are ignored.
    fn accept(&mut self, value: &[u8]) {
        for range in value.split(|&b| b == b',') {
            let mut parts = range.split(|&b| b == b';');
            let media = parts.next().unwrap_or_default().trim_ascii();
            let Some(Params { q, version, proto, encoding }) = params(parts) else { continue };
            let version_is = |wanted: &[u8]| version.is_none_or(|v| v == wanted);
            if media.eq_ignore_ascii_case(b"application/vnd.google.protobuf") {
                #[cfg(feature = "protobuf")]
                if proto == Some(b"io.prometheus.client.MetricFamily") && encoding == Some(b"delimited") {
                    self.protobuf = self.protobuf.max(q);
                }
                #[cfg(not(feature = "protobuf"))]
                let _ = (proto, encoding);
            } else if media.eq_ignore_ascii_case(b"application/openmetrics-text") {
                if version_is(b"1.0.0") {
                    self.openmetrics = self.openmetrics.max(q);
                }
            } else if media.eq_ignore_ascii_case(b"text/plain") {
                if version_is(b"0.0.4") {
                    self.text = self.text.max(q);
                }
            } else if media == b"*/*" || media.eq_ignore_ascii_case(b"text/*") {
                self.text = self.text.max(q);
            }
        }
    }

    /// Folds in one `Accept-Encoding` value.
    fn accept_encoding(&mut self, value: &[u8]) {
        for item in value.split(|&b| b == b',') {
            let mut parts = item.split(|&b| b == b';');
            let coding = parts.next().unwrap_or_default().trim_ascii();
            let Some(Params { q, .. }) = params(parts) else { continue };
            let best = |old: Option<u16>| Some(old.map_or(q, |old| old.max(q)));
            if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
                self.gzip = best(self.gzip);
            } else if coding == b"*" {
                self.any_encoding = best(self.any_encoding);
            }
        }
    }

    fn format(&self) -> Format {
        #[cfg(feature = "protobuf")]
        if self.protobuf > 0 && self.protobuf > self.openmetrics && self.protobuf > self.text {
            return Format::Protobuf;
        }
        if self.openmetrics > 0 && self.openmetrics > self.text {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    fn gzip(&self) -> bool {
        self.gzip.or(self.any_encoding).is_some_and(|q| q > 0)
    }
}

/// The parameters of one media range or coding that negotiation looks at.
struct Params<'a> {
    /// In thousandths; 1000 when absent.
    q: u16,
    version: Option<&'a [u8]>,
    /// `proto` and `encoding`, for `application/vnd.google.protobuf`.
    proto: Option<&'a [u8]>,
    encoding: Option<&'a [u8]>,
}

/// The q-value (default 1000), `version`, `proto` and `encoding` of `;`-separated `name=value`
/// parameters (values may be quoted); `None` when one is malformed.
fn params<'a>(params: impl Iterator<Item = &'a [u8]>) -> Option<Params<'a>> {
    let mut parsed = Params { q: 1000, version: None, proto: None, encoding: None };
    for param in params {
        let eq = param.iter().position(|&b| b == b'=')?;
        let name = param.get(..eq)?.trim_ascii();
        let value = param.get(eq + 1..)?.trim_ascii();
        let unquoted = value.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\"")).unwrap_or(value);
        if name.eq_ignore_ascii_case(b"q") {
            parsed.q = parse_q(value)?;
        } else if name.eq_ignore_ascii_case(b"version") {
            parsed.version = Some(unquoted);
        } else if name.eq_ignore_ascii_case(b"proto") {
            parsed.proto = Some(unquoted);
        } else if name.eq_ignore_ascii_case(b"encoding") {
            parsed.encoding = Some(unquoted);
        }
    }
    Some(parsed)
}

/// RFC 9110 `qvalue` in thousandths: `0`, `0.5`, `1.000`...
fn parse_q(value: &[u8]) -> Option<u16> {
    let (int, frac) = match value.iter().position(|&b| b == b'.') {
        Some(dot) => (value.get(..dot)?, value.get(dot + 1..)?),
        None => (value, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let thousandths = (0..3).fold(0, |acc, i| acc * 10 + frac.get(i).map_or(0, |d| u16::from(d - b'0')));
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

fn render(registry: &Registry, outcome: &Result<Request, Status>, response: &mut Response) {
    response.out.clear();
    let request = match outcome {
        Ok(request) => request,
        Err(status) => return render_text(&mut response.out, *status, "", true),
    };
    // Only HEAD omits the body: every other response carries the bytes its Content-Length promises.
    let body = request.method != Method::Head;
    match (request.route, request.method) {
        (Route::NotFound, _) => render_text(&mut response.out, Status::NotFound, "", body),
        (_, Method::Other) => render_text(&mut response.out, Status::MethodNotAllowed, "Allow: GET, HEAD\r\n", true),
        (Route::Health, _) => {
            write_head(&mut response.out, Status::Ok, TEXT_PLAIN, false, 2, "");
            if body {
                response.out.extend_from_slice(b"ok");
            }
        }
        (Route::Metrics, _) => render_metrics(registry, request, response),
    }
}

/// A plain-text response whose body is the status line's reason, lower-cased.
fn render_text(out: &mut Vec<u8>, status: Status, extra_headers: &str, body: bool) {
    let reason = status.code_and_reason().get(4..).unwrap_or_default().to_ascii_lowercase();
    write_head(out, status, TEXT_PLAIN, false, reason.len() + 1, extra_headers);
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
    write_head(out, Status::Ok, format.content_type(), request.gzip, body.len(), "Vary: Accept, Accept-Encoding\r\n");
    if request.method == Method::Get {
        out.extend_from_slice(body);
    }
}

fn compress(input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    let mut encoder = GzEncoder::new(out, Compression::fast());
    encoder.write_all(input)?;
    encoder.finish().map(drop)
}

/// The status line and headers; `extra_headers` are whole lines, each ending in CRLF.
fn write_head(out: &mut Vec<u8>, status: Status, content_type: &str, gzip: bool, len: usize, extra_headers: &str) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.code_and_reason().as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: ");
    out.extend_from_slice(content_type.as_bytes());
    if gzip {
        out.extend_from_slice(b"\r\nContent-Encoding: gzip");
    }
    out.extend_from_slice(b"\r\nContent-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(extra_headers.as_bytes());
    out.extend_from_slice(b"Connection: close\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &[u8]) -> Parsed {
        parse_head(head, DEFAULT_MAX_REQUEST_BYTES)
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

    fn negotiate(accept: &str) -> Format {
        let mut n = Negotiation::default();
        n.accept(accept.as_bytes());
        n.format()
    }

    fn gzip(accept_encoding: &str) -> bool {
        let mut n = Negotiation::default();
        n.accept_encoding(accept_encoding.as_bytes());
        n.gzip()
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
        assert_eq!(parse_head(b"GET /metrics HTTP/1.0\r\n", 10), Parsed::Done(Err(Status::HeaderFieldsTooLarge)));
        assert_eq!(parse_head(b"GET /metrics HTT", 16), Parsed::Done(Err(Status::HeaderFieldsTooLarge)));
        assert_eq!(parse_head(b"GET /metrics HT", 16), Parsed::Incomplete);
        assert_eq!(parse_head(b"", 0), Parsed::Done(Err(Status::HeaderFieldsTooLarge)));
        let exact = b"GET /metrics HTTP/1.0\r\n\r\n";
        assert!(matches!(parse_head(exact, exact.len()), Parsed::Done(Ok(_))));
        assert_eq!(parse_head(exact, exact.len() - 1), Parsed::Done(Err(Status::HeaderFieldsTooLarge)));
        let mut many = b"GET /metrics HTTP/1.0\r\n".to_vec();
        for _ in 0..=MAX_HEADERS {
            many.extend_from_slice(b"X: y\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse_head(&many, usize::MAX), Parsed::Done(Err(Status::HeaderFieldsTooLarge)));
    }

    #[test]
    fn bodies_are_noticed() {
        assert!(request(b"GET /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\n").has_body);
        assert!(request(b"GET /metrics HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").has_body);
        assert!(!request(b"GET /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n").has_body);
    }

    #[test]
    fn accept_negotiation() {
        use Format::{OpenMetrics as Om, Prometheus as Prom};
        for (accept, expected) in [
            ("", Prom),
            ("*/*", Prom),
            ("text/plain", Prom),
            ("application/openmetrics-text", Om),
            ("Application/OpenMetrics-Text; Version=\"1.0.0\"", Om),
            ("application/openmetrics-text;version=0.0.1", Prom),
            ("application/openmetrics-text;version=1.0.0;q=0", Prom),
            ("application/openmetrics-text;q=0.5, text/plain;q=0.6", Prom),
            ("application/openmetrics-text;q=0.5, text/plain;q=0.5", Prom), // ties go to the default
            ("application/openmetrics-text;q=0.5, */*;q=0.1", Om),
            ("application/openmetrics-text;q=0.5, text/*;q=0.9", Prom),
            ("text/plain;version=1.0.0, application/openmetrics-text;q=0.1", Om),
            ("application/openmetrics-text;q=2", Prom), // invalid q: range ignored
            ("application/openmetrics-text;q=0.1234", Prom),
            ("application/openmetrics-text;garbage", Prom),
            ("application/openmetrics-text;q=1.000", Om),
            // What Prometheus 2.x sends.
            (
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,\
                 text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                Om,
            ),
            // Prometheus 3.x, with escaping and a text 1.0.0 option.
            (
                "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
                 text/plain;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1",
                Om,
            ),
            // Prometheus configured for text first.
            ("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.8", Prom),
        ] {
            assert_eq!(negotiate(accept), expected, "{accept}");
        }
        // Several Accept headers combine.
        let r = request(
            b"GET /metrics HTTP/1.0\r\nAccept: text/plain;q=0.2\r\nAccept: application/openmetrics-text\r\n\r\n",
        );
        assert_eq!(r.format, Format::OpenMetrics);
    }

    #[test]
    fn protobuf_negotiation() {
        // What Prometheus 2.42 sends with `--enable-feature=native-histograms`.
        let prometheus = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,\
                          application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;\
                          q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        #[cfg(feature = "protobuf")]
        let protobuf = Format::Protobuf;
        #[cfg(not(feature = "protobuf"))]
        let protobuf = Format::OpenMetrics;
        assert_eq!(negotiate(prometheus), protobuf);
        let delimited = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";
        #[cfg(feature = "protobuf")]
        for (accept, expected) in [
            (delimited.to_owned(), Format::Protobuf),
            (format!("{delimited};q=0.5, text/plain;q=0.4"), Format::Protobuf),
            (format!("{delimited};q=0.5, text/plain;q=0.5"), Format::Prometheus), // ties go to text
            (format!("{delimited};q=0.5, application/openmetrics-text;q=0.9"), Format::OpenMetrics),
            (format!("{delimited};q=0"), Format::Prometheus),
            (
                "Application/Vnd.Google.Protobuf; proto=\"io.prometheus.client.MetricFamily\"; encoding=\"delimited\""
                    .to_owned(),
                Format::Protobuf,
            ),
            ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily".to_owned(), Format::Prometheus),
            (
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text".to_owned(),
                Format::Prometheus,
            ),
            ("application/vnd.google.protobuf;encoding=delimited".to_owned(), Format::Prometheus),
            ("application/vnd.google.protobuf;proto=other.Message;encoding=delimited".to_owned(), Format::Prometheus),
        ] {
            assert_eq!(negotiate(&accept), expected, "{accept}");
        }
        #[cfg(not(feature = "protobuf"))]
        assert_eq!(negotiate(delimited), Format::Prometheus);
    }

    #[test]
    fn encoding_negotiation() {
        for (value, expected) in [
            ("", false),
            ("gzip", true),
            ("GZip;q=0.1", true),
            ("x-gzip", true),
            ("deflate, br", false),
            ("gzip;q=0", false),
            ("*", true),
            ("*;q=0", false),
            ("gzip;q=0, *", false),
            ("identity, gzip;q=0.5", true),
            ("gzip;q=x", false),
            ("gzip;q=0,gzip;q=0.3", true),
        ] {
            assert_eq!(gzip(value), expected, "{value}");
        }
    }

    #[test]
    fn q_values() {
        for (q, expected) in [
            ("0", Some(0)),
            ("0.", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.123", Some(123)),
            ("1", Some(1000)),
            ("1.000", Some(1000)),
            ("1.001", None),
            ("0.1234", None),
            ("", None),
            (".5", None),
            ("-0", None),
            ("0.a", None),
        ] {
            assert_eq!(parse_q(q.as_bytes()), expected, "{q}");
        }
    }

    fn split(response: &[u8]) -> (String, &[u8]) {
        let end = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
        (String::from_utf8(response[..end].to_vec()).unwrap(), &response[end..])
    }

    #[test]
    fn responses() {
        let registry = Registry::new();
        registry.counter("r_total", "R.").unwrap().inc();
        let prometheus = registry.encode_to_string(Format::Prometheus);

        let response = respond_to_bytes(&registry, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        let (head, body) = split(&response);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains(&format!("Content-Type: {}\r\n", Format::Prometheus.content_type())), "{head}");
        assert!(head.contains(&format!("Content-Length: {}\r\n", prometheus.len())), "{head}");
        assert!(head.ends_with("Connection: close\r\n\r\n"), "{head}");
        assert_eq!(body, prometheus.as_bytes());

        let response = respond_to_bytes(&registry, b"HEAD /metrics HTTP/1.0\r\n\r\n");
        let (head, body) = split(&response);
        assert!(head.contains(&format!("Content-Length: {}\r\n", prometheus.len())), "{head}");
        assert!(body.is_empty());

        let response = respond_to_bytes(&registry, b"GET /health HTTP/1.0\r\n\r\n");
        assert_eq!(split(&response).1, b"ok");

        for (request, status_line, body) in [
            (&b"GET /nope HTTP/1.0\r\n\r\n"[..], "HTTP/1.1 404 Not Found\r\n", &b"not found\n"[..]),
            (b"HEAD /nope HTTP/1.0\r\n\r\n", "HTTP/1.1 404 Not Found\r\n", b""),
            (b"DELETE /metrics HTTP/1.0\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\n", b"method not allowed\n"),
            (b"\x00", "HTTP/1.1 400 Bad Request\r\n", b"bad request\n"),
            (b"GET / HTTP/3.0\r\n", "HTTP/1.1 505 HTTP Version Not Supported\r\n", b"http version not supported\n"),
        ] {
            let response = respond_to_bytes(&registry, request);
            let (head, got) = split(&response);
            assert!(head.starts_with(status_line), "{head}");
            if !body.is_empty() {
                assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())), "{head}");
            }
            assert_eq!(got, body, "{head}");
        }
        assert!(split(&respond_to_bytes(&registry, b"POST /health HTTP/1.0\r\n\r\n"))
            .0
            .contains("Allow: GET, HEAD\r\n"));
        assert!(respond_to_bytes(&registry, b"GET /metrics HTTP/1.1\r\n").is_empty());
        let huge = vec![b'a'; DEFAULT_MAX_REQUEST_BYTES + 1];
        assert!(split(&respond_to_bytes(&registry, &huge)).0.starts_with("HTTP/1.1 431 "));
    }

    #[test]
    fn gzip_responses_decompress_to_the_scrape() {
        use std::io::Read as _;
        let registry = Registry::new();
        registry.gauge("g", "G.").unwrap().set(3);
        let response = respond_to_bytes(
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
                let response = respond_to_bytes(&registry, &bytes);
                assert!(response.is_empty() || response.starts_with(b"HTTP/1.1 "));
            }
        }
    }

    #[test]
    fn wake_addr_replaces_the_unspecified_address() {
        assert_eq!(wake_addr("0.0.0.0:9".parse().unwrap()), "127.0.0.1:9".parse().unwrap());
        assert_eq!(wake_addr("[::]:9".parse().unwrap()), "[::1]:9".parse().unwrap());
        assert_eq!(wake_addr("10.1.2.3:9".parse().unwrap()), "10.1.2.3:9".parse().unwrap());
    }
}
