//! Serving one accepted connection within its deadlines: read the request head, render the
//! response, write it, and drain what the client sent before closing. Nothing here blocks past
//! a deadline, so a slow or silent client costs a worker a bounded time.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use super::request::{parse_head, Parsed, Request, Status};
use super::response::{render, Response};
use crate::Registry;

/// The least read time a queued connection gets once a worker takes it.
const QUEUED_GRACE: Duration = Duration::from_millis(20);
/// How long, and how much, to drain a connection before closing it with unread input.
const LINGER_TIME: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 64 * 1024;

/// What bounds one connection, as [`Builder`](super::Builder) set it (timeouts already clamped).
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// For the whole request head, counted from `accept`.
    pub(super) read_timeout: Duration,
    /// For the whole response.
    pub(super) write_timeout: Duration,
    /// The longest request head, line ends included; a longer one gets 431.
    pub(super) max_request_bytes: usize,
}

/// Buffers a worker reuses from one connection to the next.
#[derive(Default)]
pub(super) struct Scratch {
    request: Vec<u8>,
    response: Response,
}

/// Answers the one request on `stream`, accepted at `accepted`, with the scrape of `registry`
/// served on `path`. Returns without answering when the head does not arrive in time.
pub(super) fn serve(
    stream: &TcpStream,
    accepted: Instant,
    registry: &Registry,
    path: &[u8],
    limits: &Limits,
    scratch: &mut Scratch,
) {
    let _ = stream.set_nodelay(true); // the response goes out in one write; do not hold its tail
    let now = Instant::now();
    let deadline = after(accepted, limits.read_timeout).max(after(now, limits.read_timeout.min(QUEUED_GRACE)));
    let Some(outcome) = read_head(stream, &mut scratch.request, limits.max_request_bytes, path, deadline) else {
        return; // timed out, closed by the client, or a socket error: nothing to answer
    };
    render(registry, &outcome, &mut scratch.response);
    if write_by(stream, &scratch.response.out, after(Instant::now(), limits.write_timeout)).is_err() {
        return;
    }
    let _ = stream.shutdown(Shutdown::Write);
    let unread_input = match &outcome {
        Ok(request) => request.has_body || scratch.request.len() > request.head_len,
        Err(_) => true,
    };
    if unread_input {
        linger(stream, after(Instant::now(), limits.read_timeout.min(LINGER_TIME)));
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
            if let Parsed::Done(outcome) = parse_head(buf, max, path) {
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
