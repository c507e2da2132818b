//! The `/metrics` server over real sockets on 127.0.0.1 (port 0): routes, negotiation, gzip, and
//! abuse (garbage, oversized heads, silent and trickling clients, a burst of connections), with
//! the process's descriptor count checked afterwards and a shutdown that closes the port.
//!
//! Tests run one at a time (they share the process's descriptor table); every client has
//! timeouts, so a server bug fails a test instead of hanging it.

#![cfg(feature = "http")]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use raft_metrics::http::{Builder, Server};
use raft_metrics::{Format, Gauge, MetricInfo, Registry};

#[path = "support/faulty.rs"]
mod faulty;
use faulty::{Faulty, UNLUCKY};

const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn registry() -> Arc<Registry> {
    let registry = Arc::new(Registry::new());
    registry.counter("http_test_requests_total", "Requests.").unwrap().add(7);
    let term = registry.register_with::<Gauge, 1>(MetricInfo::new("http_test_term", "Term."), ["node"], ()).unwrap();
    term.bind(("n1",)).set(3);
    term.bind(("n2",)).set(4);
    registry
}

fn start(registry: &Arc<Registry>, configure: impl FnOnce(Builder) -> Builder) -> Server {
    configure(Server::builder().bind("127.0.0.1:0").registry(Arc::clone(registry))).start().unwrap()
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, CLIENT_TIMEOUT)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    Ok(stream)
}

/// Sends `request` and reads until the server closes. A server that answers early and closes may
/// make the write or a late read fail with a reset: what arrived before it counts.
fn exchange(addr: SocketAddr, request: &[u8]) -> io::Result<Vec<u8>> {
    let mut stream = connect(addr)?;
    let written = stream.write_all(request);
    let mut response = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(response),
            Ok(n) => response.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) if !response.is_empty() => return Ok(response),
            Err(e) => return Err(written.err().unwrap_or(e)),
        }
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn parse(bytes: &[u8]) -> Reply {
        let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head") + 4;
        let head = String::from_utf8(bytes[..end].to_vec()).expect("an ASCII head");
        assert!(head.starts_with("HTTP/1.1 "), "{head}");
        let status = head[9..12].parse().expect("a status code");
        let reply = Reply { status, head, body: bytes[end..].to_vec() };
        assert_eq!(reply.header("connection"), Some("close"), "{}", reply.head);
        reply
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn content_length(&self) -> usize {
        self.header("content-length").expect("Content-Length").parse().unwrap()
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

fn get(addr: SocketAddr, path: &str, headers: &str) -> Reply {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n");
    Reply::parse(&exchange(addr, request.as_bytes()).unwrap())
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// Polls `condition` until it holds or `timeout` passes; true if it held.
fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn assert_serves_metrics(addr: SocketAddr, registry: &Registry) {
    let reply = get(addr, "/metrics", "");
    assert_eq!(reply.status, 200, "{}", reply.head);
    assert_eq!(reply.text(), registry.encode_to_string(Format::Prometheus));
}

#[test]
fn get_metrics_serves_the_prometheus_scrape() {
    let _serial = serial();
    let registry = registry();
    let server = start(&registry, |b| b);
    let reply = get(server.local_addr(), "/metrics", "");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some(Format::Prometheus.content_type()));
    assert_eq!(reply.header("content-encoding"), None);
    assert_eq!(reply.content_length(), reply.body.len());
    let expected = registry.encode_to_string(Format::Prometheus);
    assert_eq!(reply.text(), expected);
    assert!(expected.contains("http_test_term{node=\"n2\"} 4"), "{expected}");
    raft_metrics::advanced::parse::parse(reply.text(), Format::Prometheus).unwrap();
    // A query string and HTTP/1.0 without Host are fine too.
    let reply = Reply::parse(&exchange(server.local_addr(), b"GET /metrics?x=1 HTTP/1.0\r\n\r\n").unwrap());
    assert_eq!(reply.text(), expected);
}

#[test]
fn the_scrape_path_is_configurable() {
    let _serial = serial();
    let registry = registry();
    let server = start(&registry, |b| b.path("/internal/raft"));
    assert_eq!(get(server.local_addr(), "/internal/raft", "").status, 200);
    assert_eq!(get(server.local_addr(), "/metrics", "").status, 404);
    assert_eq!(get(server.local_addr(), "/health", "").status, 200);
    drop(server);
    for bad in ["metrics", "/health", "/m?x=1", ""] {
        let refused = raft_metrics::http::Server::builder().bind("127.0.0.1:0").path(bad).start();
        assert!(refused.is_err(), "{bad:?}");
    }
}

#[test]
fn head_returns_the_headers_only() {
    let _serial = serial();
    let registry = registry();
    let server = start(&registry, |b| b);
    let reply = Reply::parse(&exchange(server.local_addr(), b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap());
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some(Format::Prometheus.content_type()));
    // The scrape is not encoded for HEAD, so its length is not sent (RFC 9110 §9.3.2 allows that).
    assert_eq!(reply.header("content-length"), None);
    assert!(reply.body.is_empty());
}

#[test]
fn accept_selects_openmetrics() {
    let _serial = serial();
    let registry = registry();
    let server = start(&registry, |b| b);
    let prometheus_accept = "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                             version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n";
    let reply = get(server.local_addr(), "/metrics", prometheus_accept);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some(Format::OpenMetrics.content_type()));
    assert_eq!(reply.text(), registry.encode_to_string(Format::OpenMetrics));
    assert!(reply.text().ends_with("# EOF\n"));

    let reply =
        get(server.local_addr(), "/metrics", "Accept: text/plain;q=0.9, application/openmetrics-text;q=0.5\r\n");
    assert_eq!(reply.header("content-type"), Some(Format::Prometheus.content_type()));
    assert_eq!(reply.text(), registry.encode_to_string(Format::Prometheus));
}

#[test]
fn accept_encoding_gzip_compresses_the_body() {
    let _serial = serial();
    let registry = registry();
    let server = start(&registry, |b| b);
    for (accept, format) in
        [("", Format::Prometheus), ("Accept: application/openmetrics-text\r\n", Format::OpenMetrics)]
    {
        let reply = get(server.local_addr(), "/metrics", &format!("{accept}Accept-Encoding: br, gzip;q=0.8\r\n"));
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("content-encoding"), Some("gzip"));
        assert_eq!(reply.header("content-type"), Some(format.content_type()));
        assert_eq!(reply.content_length(), reply.body.len());
        let mut text = String::new();
        flate2::read::GzDecoder::new(&reply.body[..]).read_to_string(&mut text).unwrap();
        assert_eq!(text, registry.encode_to_string(format));
    }
    let reply = get(server.local_addr(), "/metrics", "Accept-Encoding: gzip;q=0\r\n");
    assert_eq!(reply.header("content-encoding"), None);
}

#[test]
fn health_unknown_paths_and_methods() {
    let _serial = serial();
    let registry = registry();
    let server = start(&registry, |b| b);
    let addr = server.local_addr();
    let health = get(addr, "/health", "");
    assert_eq!((health.status, health.text()), (200, "ok"));
    assert_eq!(get(addr, "/", "").status, 404);
    assert_eq!(get(addr, "/metrics/extra", "").status, 404);
    let post =
        Reply::parse(&exchange(addr, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc").unwrap());
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    let no_host = Reply::parse(&exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n").unwrap());
    assert_eq!(no_host.status, 400);
    let http2 = Reply::parse(&exchange(addr, b"GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n").unwrap());
    assert_eq!(http2.status, 505);
}

/// 400, or a connection closed without a response; never anything else.
fn assert_refused_as_bad(response: io::Result<Vec<u8>>) {
    match response {
        Ok(bytes) if bytes.is_empty() => {}
        Ok(bytes) => assert_eq!(Reply::parse(&bytes).status, 400),
        Err(e) => assert!(matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe), "{e}"),
    }
}

#[test]
fn garbage_gets_400_and_the_server_goes_on() {
    let _serial = serial();
    let registry = registry();
    let server = start(&registry, |b| b.read_timeout(Duration::from_secs(2)));
    let addr = server.local_addr();
    let garbage: [&[u8]; 5] = [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", // a TLS ClientHello
        b"\x00\x00\x00\x00\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\n folded: x\r\n\r\n",
        b"\xff\xfe\xfd GET / HTTP/1.1\r\n\r\n",
    ];
    for bytes in garbage {
        assert_refused_as_bad(exchange(addr, bytes));
    }
    // A client that sends half a request and closes its side gets nothing, and costs nothing.
    let mut half = connect(addr).unwrap();
    half.write_all(b"GET /metr").unwrap();
    half.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    assert_eq!(half.read_to_end(&mut rest).unwrap(), 0);
    assert_serves_metrics(addr, &registry);
}

#[test]
fn oversized_requests_get_431() {
    let _serial = serial();
    let registry = registry();
    let server = start(&registry, |b| b.max_request_bytes(4096));
    let addr = server.local_addr();
    let long_header = format!("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n", "a".repeat(20_000));
    assert_eq!(Reply::parse(&exchange(addr, long_header.as_bytes()).unwrap()).status, 431);
    // A request line past the limit is a long target: 414 URI Too Long (RFC 9110 §15.5.15).
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "m".repeat(5000));
    assert_eq!(Reply::parse(&exchange(addr, long_target.as_bytes()).unwrap()).status, 414);
    let many_headers = format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{}\r\n", "X: y\r\n".repeat(100));
    assert_eq!(Reply::parse(&exchange(addr, many_headers.as_bytes()).unwrap()).status, 431);
    assert_serves_metrics(addr, &registry);
}

#[test]
fn a_silent_client_is_dropped_after_the_read_timeout_while_others_are_served() {
    let _serial = serial();
    let registry = registry();
    let timeout = Duration::from_millis(200);
    let server = start(&registry, |b| b.workers(2).read_timeout(timeout));
    let addr = server.local_addr();
    let started = Instant::now();
    let mut silent = connect(addr).unwrap();
    assert_serves_metrics(addr, &registry);
    let mut buf = [0u8; 64];
    match silent.read(&mut buf) {
        Ok(n) => assert_eq!(n, 0, "the server answered a silent client"),
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
    }
    let waited = started.elapsed();
    assert!(waited >= timeout.saturating_sub(Duration::from_millis(20)), "dropped after {waited:?}");
    assert!(waited < CLIENT_TIMEOUT, "never dropped");
    assert_serves_metrics(addr, &registry);
}

#[test]
fn a_trickling_client_is_dropped_at_the_deadline() {
    let _serial = serial();
    let registry = registry();
    let timeout = Duration::from_millis(300);
    let server = start(&registry, |b| b.read_timeout(timeout));
    let mut client = connect(server.local_addr()).unwrap();
    // Waiting for the server's answer paces the trickle: one header byte per 20 ms read timeout.
    client.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let started = Instant::now();
    client.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut buf = [0u8; 64];
    let closed = loop {
        assert!(started.elapsed() < CLIENT_TIMEOUT, "the trickling client was never dropped");
        if client.write_all(b"X").is_err() {
            break started.elapsed();
        }
        match client.read(&mut buf) {
            Ok(0) => break started.elapsed(),
            Ok(_) => panic!("the server answered an incomplete request"),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(_) => break started.elapsed(), // reset
        }
    };
    assert!(closed >= timeout.saturating_sub(Duration::from_millis(20)), "dropped after {closed:?}");
    assert_serves_metrics(server.local_addr(), &registry);
}

#[test]
fn connections_beyond_the_cap_get_503() {
    let _serial = serial();
    let registry = registry();
    let server = start(&registry, |b| b.workers(1).max_connections(1).read_timeout(Duration::from_secs(10)));
    let addr = server.local_addr();
    let holder = connect(addr).unwrap();
    // Connections are accepted in order, so the holder is admitted first and holds the one place.
    let refused = Reply::parse(&exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap());
    assert_eq!(refused.status, 503);
    assert_eq!(refused.content_length(), refused.body.len());
    drop(holder);
    // The worker sees the holder's EOF and frees the place.
    let served = || {
        let response = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap_or_default();
        !response.is_empty() && Reply::parse(&response).status == 200
    };
    assert!(eventually(CLIENT_TIMEOUT, served));
}

/// Served (200 with the full scrape) or refused (503, or closed); anything else fails.
fn scrape_or_refusal(addr: SocketAddr, expected: &str) -> bool {
    match exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n") {
        Ok(bytes) if bytes.is_empty() => false,
        Ok(bytes) => {
            let reply = Reply::parse(&bytes);
            match reply.status {
                200 => {
                    assert_eq!(reply.text(), expected);
                    true
                }
                503 => false,
                other => panic!("unexpected status {other}: {}", reply.head),
            }
        }
        Err(e) => {
            let refused = [io::ErrorKind::ConnectionReset, io::ErrorKind::ConnectionRefused, io::ErrorKind::BrokenPipe];
            assert!(refused.contains(&e.kind()), "{e}");
            false
        }
    }
}

#[test]
fn a_burst_of_concurrent_scrapes_is_served_or_cleanly_refused() {
    let _serial = serial();
    let registry = registry();
    let server = start(&registry, |b| b);
    let addr = server.local_addr();
    let expected = Arc::new(registry.encode_to_string(Format::Prometheus));
    let barrier = Arc::new(Barrier::new(100));
    let clients: Vec<_> = (0..100)
        .map(|_| {
            let (barrier, expected) = (Arc::clone(&barrier), Arc::clone(&expected));
            thread::spawn(move || {
                barrier.wait();
                scrape_or_refusal(addr, &expected)
            })
        })
        .collect();
    let scraped = clients.into_iter().map(|c| c.join().unwrap()).filter(|&ok| ok).count();
    assert!(scraped > 0, "nothing served");
    assert_serves_metrics(addr, &registry);
}

#[test]
fn abuse_leaves_no_descriptors_behind() {
    let _serial = serial();
    let registry = registry();
    let server = start(&registry, |b| b.read_timeout(Duration::from_millis(200)).max_request_bytes(1024));
    let addr = server.local_addr();
    assert_serves_metrics(addr, &registry);
    let baseline = open_fds();

    let expected = Arc::new(registry.encode_to_string(Format::Prometheus));
    let clients: Vec<_> = (0..100)
        .map(|i| {
            let expected = Arc::clone(&expected);
            thread::spawn(move || match i % 4 {
                0 => drop(scrape_or_refusal(addr, &expected)),
                1 => drop(exchange(addr, b"\x00garbage\r\n\r\n")),
                2 => drop(exchange(addr, "GET /metrics HTTP/1.1\r\nX: ".repeat(100).as_bytes())),
                // Silent: connects, sends nothing, reads until the server gives up.
                _ => drop(connect(addr).and_then(|mut s| s.read(&mut [0u8; 16]))),
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    assert_serves_metrics(addr, &registry);
    let settled = eventually(Duration::from_secs(5), || open_fds() <= baseline + 1);
    assert!(settled, "descriptors: {} now, {baseline} before", open_fds());
}

/// The largest send buffer the kernel grows a socket to (`tcp_wmem`'s maximum).
fn send_buffer_max() -> Option<usize> {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem").ok()?.split_whitespace().nth(2)?.parse().ok()
}

/// A client that requests a scrape and never reads it holds the worker inside its write. New
/// series (which take the family lock a scrape takes), registrations and increments must all go on
/// meanwhile: the server renders into its own buffer and holds no lock while writing.
#[test]
fn a_client_that_never_reads_blocks_no_recording() {
    let _serial = serial();
    let registry = Arc::new(Registry::new());
    let big = registry
        .register_with::<raft_metrics::Counter, 1>(MetricInfo::new("http_test_big_total", "Big."), ["key"], ())
        .unwrap();
    // About 16 MiB of scrape: several times what the client's receive queue and the server's send
    // buffer can hold together (checked below), so the worker cannot finish its write.
    let padding = "x".repeat(1000);
    for i in 0..16_384 {
        big.get((format!("{i:05}{padding}").as_str(),)).inc();
    }
    let server = start(&registry, |b| b.workers(1).write_timeout(Duration::from_secs(3600)));
    let mut stuck = connect(server.local_addr()).unwrap();
    stuck.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    // The first byte: the scrape is rendered and the worker is writing.
    stuck.peek(&mut [0u8; 1]).unwrap();

    let (tx, rx) = std::sync::mpsc::channel();
    let recorder = {
        let (registry, big) = (Arc::clone(&registry), big.clone());
        thread::spawn(move || {
            for i in 0..1000 {
                big.get((format!("new-{i}").as_str(),)).inc();
            }
            let late = registry.counter("http_test_late_total", "Registered during the stuck write.").unwrap();
            late.add(5);
            tx.send(()).unwrap();
        })
    };
    // A deadlock guard, not a timing claim: the recorder needs milliseconds.
    let recorded = rx.recv_timeout(CLIENT_TIMEOUT);

    // The worker was still inside its write: more of the response is missing than the server's
    // send buffer can hold.
    let mut queued = vec![0u8; 64 << 20];
    let available = stuck.peek(&mut queued).unwrap();
    drop(queued);
    let mut response = Vec::new();
    stuck.read_to_end(&mut response).unwrap();
    assert!(recorded.is_ok(), "recording was blocked by a scrape stuck in its write");
    recorder.join().unwrap();
    let send_max = send_buffer_max().unwrap_or(4 << 20);
    assert!(
        response.len() - available > send_max,
        "the response ({} bytes, {available} queued at the client) fits the send buffer ({send_max}): \
         the worker was not blocked",
        response.len()
    );
    // The server waits (up to the write timeout) for the client to close after the response.
    drop(stuck);
    let reply = Reply::parse(&response);
    assert_eq!((reply.status, reply.content_length()), (200, reply.body.len()));
    assert!(!reply.text().contains("new-"), "the stuck scrape was rendered before the new series");
    let after = get(server.local_addr(), "/metrics", "");
    assert!(after.text().contains("http_test_big_total{key=\"new-999\"} 1\n"));
    assert!(after.text().contains("http_test_late_total 5\n"));
}

/// A family whose encoding panics (a user's `Group`) turns one scrape into a 500; the worker, the
/// registry and later scrapes are fine.
#[test]
fn a_panicking_scrape_is_a_500_and_the_next_one_succeeds() {
    let _serial = serial();
    let registry = registry();
    let faulty = registry
        .register(raft_metrics::FamilySpec::<Faulty, 1>::new(
            vec![MetricInfo::new("http_test_faulty_total", "Faulty.")],
            ["k"],
            (),
        ))
        .unwrap();
    faulty.get(("a",)).0.add(UNLUCKY);
    // One worker: the panic and the recovery happen on the same thread.
    let server = start(&registry, |b| b.workers(1));
    let addr = server.local_addr();
    for gzip in ["", "Accept-Encoding: gzip\r\n"] {
        let reply = get(addr, "/metrics", gzip);
        assert_eq!(reply.status, 500, "{}", reply.head);
        assert_eq!(reply.content_length(), reply.body.len());
    }
    faulty.get(("a",)).0.inc();
    assert_serves_metrics(addr, &registry);
    assert!(get(addr, "/metrics", "").text().contains("http_test_faulty_total{k=\"a\"} 14\n"));
}

#[test]
fn shutdown_joins_the_threads_and_closes_the_port() {
    let _serial = serial();
    let registry = registry();
    let baseline = open_fds();
    // A long read timeout: shutdown must not wait for the silent client below.
    let server = start(&registry, |b| b.read_timeout(Duration::from_secs(30)));
    let addr = server.local_addr();
    assert_serves_metrics(addr, &registry);
    let mut silent = connect(addr).unwrap();
    let started = Instant::now();
    server.shutdown();
    assert!(started.elapsed() < Duration::from_secs(5), "shutdown took {:?}", started.elapsed());
    // The silent client was disconnected, not left waiting.
    assert!(matches!(silent.read(&mut [0u8; 16]), Ok(0) | Err(_)));
    drop(silent);
    assert_eq!(TcpStream::connect(addr).map_err(|e| e.kind()).err(), Some(io::ErrorKind::ConnectionRefused));
    assert!(open_fds() <= baseline, "descriptors: {} now, {baseline} before", open_fds());

    // Dropping the handle shuts down too.
    let addr = start(&registry, |b| b).local_addr();
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn start_reports_errors_as_values() {
    let _serial = serial();
    let registry = registry();
    let server = start(&registry, |b| b);
    // The port is taken.
    let taken = Server::builder().bind(server.local_addr()).start();
    assert_eq!(taken.err().map(|e| e.kind()), Some(io::ErrorKind::AddrInUse));
    // An address that does not resolve.
    assert!(Server::builder().bind("not an address").start().is_err());
}

/// A registry whose Prometheus scrape is about `series` KB (each series has a 1000-byte label).
fn big_registry(series: usize) -> Arc<Registry> {
    let registry = Arc::new(Registry::new());
    let big = registry
        .register_with::<raft_metrics::Counter, 1>(MetricInfo::new("http_test_big_total", "Big."), ["key"], ())
        .unwrap();
    let padding = "x".repeat(1000);
    for i in 0..series {
        big.get((format!("{i:05}{padding}").as_str(),)).inc();
    }
    registry
}

/// A connection from `source` (another loopback address, say) to `addr`, with the client timeouts.
fn connect_from(source: std::net::IpAddr, addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.connect_timeout(&addr.into(), CLIENT_TIMEOUT)?;
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    Ok(stream)
}

/// Issue #15, defect 1: bytes the client sends after its request (a stray CRLF in a second
/// packet) were left unread when the server closed, and closing with unread input resets the
/// connection, which cut a large scrape short at the client. The server now half-closes and
/// reads until the client closes.
#[test]
fn bytes_after_the_request_do_not_cut_a_large_scrape_short() {
    let _serial = serial();
    let registry = big_registry(9000); // about 9 MB: more than the socket buffers hold
    let expected_len = registry.encode_to_string(Format::Prometheus).len();
    assert!(expected_len > 8 << 20, "{expected_len}");
    let server = start(&registry, |b| b.workers(1));
    for _ in 0..3 {
        let mut client = connect(server.local_addr()).unwrap();
        client.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        // The response is being written: now the stray bytes, in a packet of their own.
        client.peek(&mut [0u8; 1]).unwrap();
        client.write_all(b"\r\n").unwrap();
        let mut response = Vec::new();
        client.read_to_end(&mut response).expect("the whole response, then a clean close");
        let reply = Reply::parse(&response);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_length(), reply.body.len());
        assert_eq!(reply.body.len(), expected_len);
    }
}

/// Issue #15, defect 2: CR-only line ends held a worker for the whole read timeout and then
/// closed silently; they get 400 at once.
#[test]
fn cr_only_line_ends_get_400_at_once() {
    let _serial = serial();
    let registry = registry();
    // A read timeout far beyond the client's: waiting it out would fail the exchange.
    let server = start(&registry, |b| b.read_timeout(Duration::from_secs(60)));
    for request in [&b"GET /metrics HTTP/1.1\rHost: x\r\r"[..], b"GET /metrics HTTP/1.1\r\nHost: x\rAccept: */*\r"] {
        let reply = Reply::parse(&exchange(server.local_addr(), request).unwrap());
        assert_eq!(reply.status, 400, "{:?}", String::from_utf8_lossy(request));
    }
    assert_serves_metrics(server.local_addr(), &registry);
}

/// Issue #15, defect 3: framing the server cannot trust (RFC 9112 §6.3) got 200; it gets 400.
#[test]
fn invalid_framing_gets_400() {
    let _serial = serial();
    let registry = registry();
    let server = start(&registry, |b| b);
    for framing in [
        "Content-Length: abc\r\n",
        "Content-Length: -1\r\n",
        "Content-Length: 12345678901234567890123\r\n",
        "Content-Length: 1\r\nContent-Length: 2\r\n",
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: chunked, identity\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n",
    ] {
        let reply = get(server.local_addr(), "/metrics", framing);
        assert_eq!(reply.status, 400, "{framing:?}");
    }
    // Valid framing: the scrape, and the unread body is drained.
    let reply = get(server.local_addr(), "/metrics", "Content-Length: 3\r\n\r\nabc");
    assert_eq!(reply.status, 200);
    let reply = get(server.local_addr(), "/metrics", "Transfer-Encoding: chunked\r\n\r\n0\r\n");
    assert_eq!(reply.status, 200);
}

/// Issue #15, defect 4: responses to HEAD carry no body, errors included, and HEAD does not
/// encode the scrape (a scrape that would panic still answers HEAD with 200).
#[test]
fn head_responses_have_no_body_and_do_not_encode_the_scrape() {
    let _serial = serial();
    let registry = registry();
    let faulty = registry
        .register(raft_metrics::FamilySpec::<Faulty, 1>::new(
            vec![MetricInfo::new("http_test_faulty_total", "Faulty.")],
            ["k"],
            (),
        ))
        .unwrap();
    faulty.get(("a",)).0.add(UNLUCKY);
    let server = start(&registry, |b| b);
    let addr = server.local_addr();
    assert_eq!(get(addr, "/metrics", "").status, 500); // encoding panics
    for (request, status) in [
        (&b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"[..], 200),
        (b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n", 200),
        (b"HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"HEAD /metrics HTTP/1.1\r\n\r\n", 400),
        (b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n", 400),
        (b"HEAD /metrics HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ] {
        let reply = Reply::parse(&exchange(addr, request).unwrap());
        assert_eq!(reply.status, status, "{:?}", String::from_utf8_lossy(request));
        assert!(reply.body.is_empty(), "{:?}: {:?}", String::from_utf8_lossy(request), reply.body);
    }
}

/// Issue #15, defect 5: RFC 9110/9112 statuses and headers.
#[test]
fn statuses_and_headers_follow_the_rfcs() {
    let _serial = serial();
    let registry = registry();
    let server = start(&registry, |b| b);
    let addr = server.local_addr();
    // Date, as an IMF-fixdate (RFC 9110 §6.6.1, §5.6.7), on successes and errors.
    for reply in [get(addr, "/metrics", ""), get(addr, "/nope", "")] {
        let date = reply.header("date").expect("a Date header");
        assert_eq!(date.len(), "Sun, 06 Nov 1994 08:49:37 GMT".len(), "{date}");
        assert!(date.ends_with(" GMT"), "{date}");
        httpdate::parse_http_date(date).unwrap();
    }
    // An unknown method is 501 (RFC 9110 §9.1); a known one not allowed on the route is 405 with
    // Allow (§15.5.6); off the routes, 404.
    let brew = Reply::parse(&exchange(addr, b"BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap());
    assert_eq!((brew.status, brew.header("allow")), (501, None));
    let put = Reply::parse(&exchange(addr, b"PUT /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap());
    assert_eq!((put.status, put.header("allow")), (405, Some("GET, HEAD")));
    let delete = Reply::parse(&exchange(addr, b"DELETE /nope HTTP/1.1\r\nHost: x\r\n\r\n").unwrap());
    assert_eq!(delete.status, 404);
    // Host must be a valid authority (RFC 9110 §7.2, RFC 3986 §3.2), present once in HTTP/1.1.
    for host in ["a b", "a/b", "user@localhost", "a\tb", "local host:80", "[::1", "h:port", "h?x"] {
        let request = format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_eq!(Reply::parse(&exchange(addr, request.as_bytes()).unwrap()).status, 400, "{host:?}");
    }
    for request in [&b"GET /metrics HTTP/1.1\r\n\r\n"[..], b"GET /metrics HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"] {
        assert_eq!(Reply::parse(&exchange(addr, request).unwrap()).status, 400);
    }
    for host in ["localhost:9898", "127.0.0.1", "[::1]:80", "node-1.raft.example"] {
        assert_eq!(get_with_host(addr, host).status, 200, "{host}");
    }
    // Empty lines before the request line are ignored (RFC 9112 §2.2).
    let reply = Reply::parse(&exchange(addr, b"\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap());
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), registry.encode_to_string(Format::Prometheus));
}

fn get_with_host(addr: SocketAddr, host: &str) -> Reply {
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\n\r\n");
    Reply::parse(&exchange(addr, request.as_bytes()).unwrap())
}

/// Issue #15, defect 6: one client re-opening idle connections in a loop kept every legitimate
/// scrape at 503. Its connections are now capped per address, and evicted when they send nothing
/// within the first-byte timeout.
#[test]
fn an_idle_connection_flood_from_one_address_does_not_starve_scrapes() {
    let _serial = serial();
    let registry = registry();
    let server = start(&registry, |b| b);
    let addr = server.local_addr();
    let attacker_ip: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    if connect_from(attacker_ip, addr).is_err() {
        eprintln!("skipped: cannot bind a client to {attacker_ip}");
        return;
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attacker = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut idle = std::collections::VecDeque::new();
            let (mut opened, mut refused) = (0, 0);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match connect_from(attacker_ip, addr) {
                    Ok(stream) => {
                        opened += 1;
                        // Refused connections get a 503 at once; admitted ones get nothing yet.
                        stream.set_nonblocking(true).unwrap();
                        if stream.peek(&mut [0u8; 1]).is_ok() {
                            refused += 1;
                        }
                        idle.push_back(stream);
                    }
                    Err(_) => refused += 1,
                }
                // Keep the last few hundred open; the server decides when they go.
                if idle.len() > 300 {
                    idle.pop_front();
                }
                thread::sleep(Duration::from_millis(10)); // about 100 connections a second
            }
            (opened, refused)
        })
    };
    thread::sleep(Duration::from_secs(2)); // the flood is under way
    let expected = registry.encode_to_string(Format::Prometheus);
    let attempts = 20;
    let served = (0..attempts)
        .filter(|_| {
            thread::sleep(Duration::from_millis(100));
            scrape_or_refusal(addr, &expected)
        })
        .count();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (opened, refused) = attacker.join().unwrap();
    assert!(opened > 100, "the attacker opened only {opened} connections");
    assert!(refused > 0, "the per-address cap never refused the attacker");
    assert!(served * 10 >= attempts * 8, "{served} of {attempts} scrapes served during the flood");
}

#[test]
fn connections_beyond_the_per_address_cap_get_503_and_idle_ones_are_evicted() {
    let _serial = serial();
    let registry = registry();
    let long = Duration::from_secs(60);
    let server =
        start(&registry, |b| b.workers(1).max_connections_per_ip(2).first_byte_timeout(long).read_timeout(long));
    let addr = server.local_addr();
    let holders = [connect(addr).unwrap(), connect(addr).unwrap()];
    let refused = Reply::parse(&exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap());
    assert_eq!(refused.status, 503);
    // Another address is not limited by this one's connections.
    if let Ok(mut other) = connect_from("127.0.0.2".parse().unwrap(), addr) {
        other.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        drop(holders); // the worker is busy with the first holder until it closes
        let mut response = Vec::new();
        other.read_to_end(&mut response).unwrap();
        assert_eq!(Reply::parse(&response).status, 200);
    } else {
        drop(holders);
    }
    assert!(eventually(CLIENT_TIMEOUT, || exchange(addr, b"GET /health HTTP/1.0\r\n\r\n")
        .is_ok_and(|r| !r.is_empty() && Reply::parse(&r).status == 200)));
    drop(server);

    // A connection that sends nothing is closed at the first-byte timeout, long before the read
    // timeout, without a response.
    let server = start(&registry, |b| b.first_byte_timeout(Duration::from_millis(200)).read_timeout(long));
    let mut idle = connect(server.local_addr()).unwrap();
    let mut buf = [0u8; 64];
    match idle.read(&mut buf) {
        Ok(n) => assert_eq!(n, 0, "the server answered a silent client"),
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
    }
    assert_serves_metrics(server.local_addr(), &registry);
}

/// Issue #15, defect 7: a response not taken within the write timeout ended in a clean close, so
/// the client could not tell the body was cut short (and the kernel kept sending the rest). The
/// server now resets the connection.
#[test]
fn a_response_not_taken_in_time_ends_in_a_reset() {
    let _serial = serial();
    let registry = big_registry(16_384); // about 16 MB: more than the socket buffers hold
    let server = start(&registry, |b| b.workers(1).write_timeout(Duration::from_millis(300)));
    let mut stuck = connect(server.local_addr()).unwrap();
    stuck.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    stuck.peek(&mut [0u8; 1]).unwrap(); // the worker is writing
                                        // Not a timing claim: this only lets the server's write deadline pass before we read.
    thread::sleep(Duration::from_secs(2));
    let mut received = 0;
    let mut buf = vec![0u8; 1 << 16];
    let end = loop {
        match stuck.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => received += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    let error = end.expect_err("a clean end of stream on a truncated response");
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error}");
    assert!(received < registry.encode_to_string(Format::Prometheus).len(), "{received} bytes");
    assert_serves_metrics(server.local_addr(), &registry);
}

/// Issue #15, defect 8: an optional `Host` allow-list against DNS rebinding; other hosts get 421.
#[test]
fn the_host_allow_list_refuses_other_hosts_with_421() {
    let _serial = serial();
    let registry = registry();
    let server = start(&registry, |b| b.allowed_hosts(["localhost", "127.0.0.1:9898", "[::1]"]));
    let addr = server.local_addr();
    for host in ["localhost", "LOCALHOST:1234", "127.0.0.1", "[::1]:9898"] {
        assert_eq!(get_with_host(addr, host).status, 200, "{host}");
    }
    for host in ["rebound.attacker.example", "rebound.attacker.example:9898", "127.0.0.2", ""] {
        let reply = get_with_host(addr, host);
        assert_eq!(reply.status, 421, "{host}");
        assert_eq!(reply.content_length(), reply.body.len());
    }
    // HTTP/1.0 without Host names no host.
    assert_eq!(Reply::parse(&exchange(addr, b"GET /metrics HTTP/1.0\r\n\r\n").unwrap()).status, 421);
    // Off by default.
    let open = start(&registry, |b| b);
    assert_eq!(get_with_host(open.local_addr(), "rebound.attacker.example").status, 200);
}
