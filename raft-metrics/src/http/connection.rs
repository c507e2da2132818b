//! Serving one accepted connection within its deadlines: read the request head, render the
//! response, write it, and drain what the client sent before closing. Nothing here blocks past
//! a deadline, so a slow or silent client costs a worker a bounded time.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use super::request::{parse_head, Parsed, Refusal, Request, Site};
use super::response::{render, Response};
use crate::Registry;

/// The least read time a queued connection gets once a worker takes it.
const QUEUED_GRACE: Duration = Duration::from_millis(20);
/// The least time to wait for the client to close after the response, if the write timeout
/// allows that much: a response written just before its deadline still gets read.
const LINGER_TIME: Duration = Duration::from_millis(500);

/// What bounds one connection, as [`Builder`](super::Builder) set it (timeouts already clamped).
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// For the first byte of the request, counted from `accept`.
    pub(super) first_byte_timeout: Duration,
    /// For the whole request head, counted from `accept`.
    pub(super) read_timeout: Duration,
    /// For the whole response, and then for the client to close.
    pub(super) write_timeout: Duration,
    /// The longest request head, line ends included; a longer one gets 414 or 431.
    pub(super) max_request_bytes: usize,
}

/// Buffers a worker reuses from one connection to the next.
#[derive(Default)]
pub(super) struct Scratch {
    request: Vec<u8>,
    response: Response,
}

/// Answers the one request on `stream`, accepted at `accepted`, for `site` with the scrape of
/// `registry`. Returns without answering when the head does not arrive in time.
///
/// After the response: a write that misses its deadline resets the connection (SO_LINGER 0),
/// so that the client sees the truncation as an error rather than as a short body ending in a
/// clean close, and the kernel drops the unsent rest at once. A complete response is followed by
/// a half-close and by reading (and discarding) whatever the client sends until it closes or the
/// write deadline passes: closing a socket with unread input resets it, and a reset discards
/// response bytes the client has not read yet.
pub(super) fn serve(
    stream: &TcpStream,
    accepted: Instant,
    registry: &Registry,
    site: &Site,
    limits: &Limits,
    scratch: &mut Scratch,
) {
    let _ = stream.set_nodelay(true); // the response goes out in one write; do not hold its tail
    let now = Instant::now();
    let by = |timeout: Duration| after(accepted, timeout).max(after(now, timeout.min(QUEUED_GRACE)));
    let deadline = by(limits.read_timeout);
    let first_byte = by(limits.first_byte_timeout.min(limits.read_timeout)).min(deadline);
    let outcome = read_head(stream, &mut scratch.request, limits.max_request_bytes, site, first_byte, deadline);
    let Some(outcome) = outcome else {
        return; // timed out, closed by the client, or a socket error: nothing to answer
    };
    render(registry, &outcome, &mut scratch.response);
    let write_deadline = after(Instant::now(), limits.write_timeout);
    if write_by(stream, &scratch.response.out, write_deadline).is_err() {
        reset(stream);
        return;
    }
    let _ = stream.shutdown(Shutdown::Write);
    linger(stream, write_deadline.max(after(Instant::now(), limits.write_timeout.min(LINGER_TIME))));
}

fn after(instant: Instant, duration: Duration) -> Instant {
    // Timeouts are clamped to a day, so this never falls back in practice.
    instant.checked_add(duration).unwrap_or(instant)
}

/// Makes the coming close send a reset and drop unsent data (SO_LINGER with a zero timeout).
fn reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

/// Reads until the head parses (or fails to); `None` when the client closed, sent nothing by
/// `first_byte`, went silent past `deadline`, or the socket failed.
fn read_head(
    stream: &TcpStream,
    buf: &mut Vec<u8>,
    max: usize,
    site: &Site,
    first_byte: Instant,
    deadline: Instant,
) -> Option<Result<Request, Refusal>> {
    buf.clear();
    let mut socket = stream;
    let mut chunk = [0u8; 4096];
    let mut parse = true;
    loop {
        if parse {
            if let Parsed::Done(outcome) = parse_head(buf, max, site) {
                return Some(outcome);
            }
        }
        // `parse_head` answers 414 or 431 at `max`, so there is room here; the guard keeps it panic-free.
        let room = max.saturating_sub(buf.len()).min(chunk.len());
        let until = if buf.is_empty() { first_byte } else { deadline };
        let remaining = until.saturating_duration_since(Instant::now());
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
        // Re-parse only when a line may have ended or a byte may be invalid (a CR may be bare):
        // a client trickling one byte at a time costs one scan per line, not per byte.
        parse =
            buf.len() >= max || read.iter().any(|&b| b == b'\n' || b == b'\r' || b < 0x20 && b != b'\t' || b >= 0x7f);
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

/// Discards input until the client closes or `deadline`.
fn linger(stream: &TcpStream, deadline: Instant) {
    let mut socket = stream;
    let mut sink = [0u8; 4096];
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() || stream.set_read_timeout(Some(remaining)).is_err() {
            return;
        }
        match socket.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
