//! The server's lifecycle: [`Builder::start`] binds and spawns one acceptor and the workers, the
//! acceptor admits a connection onto the queue or refuses it with a 503, a worker serves the
//! connections it takes off the queue one at a time, and [`Server::shutdown`] stops and joins
//! them all.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::connection::{serve, Limits, Scratch};
use super::request::{host_name, Site};
use super::response::BUSY_RESPONSE;
use super::{DEFAULT_MAX_REQUEST_BYTES, DEFAULT_PATH, DEFAULT_PORT, MAX_WORKERS};
use crate::sync::{AtomicBool, AtomicUsize, Mutex, Ordering};
use crate::RegistryRef;

/// How long `shutdown` waits to connect to its own listener.
const WAKE_TIMEOUT: Duration = Duration::from_secs(1);
/// The acceptor's pause after an error such as `EMFILE`, so it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
const MIN_TIMEOUT: Duration = Duration::from_millis(1);
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Clone, Copy)]
struct Config {
    workers: usize,
    max_connections: usize,
    max_connections_per_ip: usize,
    first_byte_timeout: Duration,
    read_timeout: Duration,
    write_timeout: Duration,
    max_request_bytes: usize,
}

impl Config {
    /// The part of the configuration that bounds each connection.
    fn limits(&self) -> Limits {
        Limits {
            first_byte_timeout: self.first_byte_timeout,
            read_timeout: self.read_timeout,
            write_timeout: self.write_timeout,
            max_request_bytes: self.max_request_bytes,
        }
    }
}

/// Configures and starts a [`Server`]; see the [module docs](crate::http) for the defaults.
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
    allowed_hosts: Option<Vec<String>>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// A builder with the defaults: `127.0.0.1:9898`, [`Registry::global`](crate::Registry::global), 2 workers, 64
    /// connections, 8 per client address, 1 s to the first byte of a request and 5 s to its end,
    /// 10 s to write a response, 8 KiB of request head, any `Host`.
    pub fn new() -> Self {
        Self {
            addrs: Ok(vec![SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_PORT))]),
            registry: RegistryRef::default(),
            config: Config {
                workers: 2,
                max_connections: 64,
                max_connections_per_ip: 8,
                first_byte_timeout: Duration::from_secs(1),
                read_timeout: Duration::from_secs(5),
                write_timeout: Duration::from_secs(10),
                max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            },
            path: DEFAULT_PATH.to_owned(),
            allowed_hosts: None,
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

    /// Connections from one client IP address being served or waiting for a worker; the acceptor
    /// answers any beyond with a non-blocking 503 and closes them. At least 1; default 8.
    ///
    /// This keeps one client (say, one re-opening idle connections in a loop) from taking all of
    /// [`max_connections`](Self::max_connections). Behind a reverse proxy every client has the
    /// proxy's address, so raise it there. IPv4-mapped IPv6 addresses count as IPv4.
    pub fn max_connections_per_ip(mut self, max: usize) -> Self {
        self.config.max_connections_per_ip = max.max(1);
        self
    }

    /// The time a client has, from `accept`, to send the first byte of its request (default 1 s);
    /// clamped to 1 ms..=1 day, and never more than [`read_timeout`](Self::read_timeout). A
    /// client that sends nothing by then is disconnected without a response, so idle
    /// connections cannot hold workers and connection places for the whole read timeout.
    pub fn first_byte_timeout(mut self, timeout: Duration) -> Self {
        self.config.first_byte_timeout = timeout.clamp(MIN_TIMEOUT, MAX_TIMEOUT);
        self
    }

    /// Answers only requests that name one of `hosts` (in `Host`, or in an absolute-form
    /// request-target); any other gets 421 Misdirected Request, and so does an HTTP/1.0
    /// request without `Host`. Off (any host) by default.
    ///
    /// This defends against DNS rebinding: a web page in a browser on the same machine can make
    /// a name it controls resolve to 127.0.0.1 and then read the endpoint, but the browser still
    /// sends that name in `Host`. Entries are host names or IP addresses, IPv6 in brackets
    /// (`"[::1]"`), compared case-insensitively; a port in a request (or in an entry) is ignored.
    /// An empty list refuses every request.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = raft_metrics::http::Server::builder()
    ///     .bind("127.0.0.1:0")
    ///     .allowed_hosts(["localhost", "127.0.0.1", "[::1]"])
    ///     .start()?;
    /// server.shutdown();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn allowed_hosts<I>(mut self, hosts: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let hosts = hosts.into_iter().map(|host| {
            let host = host.as_ref().trim();
            host_name(host.as_bytes()).map_or(host, |name| host.get(..name.len()).unwrap_or(host)).to_ascii_lowercase()
        });
        self.allowed_hosts = Some(hosts.collect());
        self
    }

    /// The time a client has, from `accept`, to send its whole request head; clamped to
    /// 1 ms..=1 day. A client that runs out is disconnected without a response.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.config.read_timeout = timeout.clamp(MIN_TIMEOUT, MAX_TIMEOUT);
        self
    }

    /// The time a client has to take the whole response; clamped to 1 ms..=1 day. A response not
    /// taken in time is cut short with a connection reset. After a complete response the server
    /// waits up to the rest of this time for the client to close.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.config.write_timeout = timeout.clamp(MIN_TIMEOUT, MAX_TIMEOUT);
        self
    }

    /// The longest request head (request line and headers, with line ends) accepted; a longer
    /// one gets 414 when the request line alone is longer, else 431.
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
            site: Site {
                path: self.path.into_bytes().into_boxed_slice(),
                allowed_hosts: self
                    .allowed_hosts
                    .map(|hosts| hosts.into_iter().map(|h| h.into_bytes().into()).collect()),
            },
            stop: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
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

///
/// It runs one acceptor thread plus [`Builder::workers`] worker threads; see the
/// [module docs](crate::http) for the protocol and the limits.
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
    /// [module docs](crate::http#shutdown)).
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

/// What the acceptor, the workers and [`Server::stop`] share.
struct Shared {
    registry: RegistryRef,
    config: Config,
    /// The scrape's path and the hosts served.
    site: Site,
    stop: AtomicBool,
    /// Connections admitted and not yet closed. Only the acceptor increments it, so checking
    /// then incrementing cannot overshoot. Relaxed: a count that only limits admission and
    /// publishes no memory.
    in_flight: AtomicUsize,
    /// Connections admitted and not yet closed, per client address (no entry for none).
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    slots: Vec<Arc<Slot>>,
}

impl Shared {
    /// Counts a connection from `ip` unless it already has `max_connections_per_ip`.
    fn enter(&self, ip: IpAddr) -> bool {
        let mut per_ip = self.per_ip.lock();
        let count = per_ip.entry(ip).or_insert(0);
        let admitted = *count < self.config.max_connections_per_ip;
        if admitted {
            *count += 1;
        }
        admitted
    }

    /// Uncounts a connection from `ip`.
    fn leave(&self, ip: IpAddr) {
        let mut per_ip = self.per_ip.lock();
        if let Some(count) = per_ip.get_mut(&ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                per_ip.remove(&ip);
            }
        }
    }
}

/// An admitted connection waiting for a worker; its read deadline runs from `accepted`.
struct Connection {
    stream: TcpStream,
    accepted: Instant,
    ip: IpAddr,
}

fn run_acceptor(shared: &Shared, listener: &TcpListener, queue: &SyncSender<Connection>) {
    loop {
        let accepted = listener.accept();
        if shared.stop.load(Ordering::Acquire) {
            return; // dropping the sender (with this thread) disconnects the workers
        }
        match accepted {
            Ok((stream, peer)) => admit(shared, queue, stream, peer.ip().to_canonical()),
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

fn admit(shared: &Shared, queue: &SyncSender<Connection>, stream: TcpStream, ip: IpAddr) {
    if shared.in_flight.load(Ordering::Relaxed) >= shared.config.max_connections || !shared.enter(ip) {
        refuse(&stream);
        return;
    }
    shared.in_flight.fetch_add(1, Ordering::Relaxed);
    if let Err(TrySendError::Full(refused) | TrySendError::Disconnected(refused)) =
        queue.try_send(Connection { stream, accepted: Instant::now(), ip })
    {
        shared.in_flight.fetch_sub(1, Ordering::Relaxed);
        shared.leave(ip);
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
            let served = catch_unwind(AssertUnwindSafe(|| {
                let (registry, limits) = (shared.registry.get(), shared.config.limits());
                serve(&stream, connection.accepted, registry, &shared.site, &limits, &mut scratch);
            }));
            if served.is_err() {
                scratch = Scratch::default();
            }
            *slot.lock() = None;
        }
        drop(stream); // the last reference: closes the socket
        shared.leave(connection.ip);
        shared.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_addr_replaces_the_unspecified_address() {
        assert_eq!(wake_addr("0.0.0.0:9".parse().unwrap()), "127.0.0.1:9".parse().unwrap());
        assert_eq!(wake_addr("[::]:9".parse().unwrap()), "[::1]:9".parse().unwrap());
        assert_eq!(wake_addr("10.1.2.3:9".parse().unwrap()), "10.1.2.3:9".parse().unwrap());
    }
}
