//! The clients: one connection to a node, proposals of 256 B to 1 KiB (an 8-byte key, then
//! filler) to the partitions it leads, in turn, at a fixed offered rate or at saturation, and a
//! reader counting the node's acknowledgements (applied proposals). A frame is the partition
//! (`u32`, little-endian), then the proposal.

use std::io::{self, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::wire;

/// Smallest and largest payload.
const PAYLOAD: std::ops::RangeInclusive<usize> = 256..=1024;
/// Proposals in flight at saturation: enough to keep every turn of the leader's loop full.
const WINDOW: u64 = 2_000;
/// At a fixed rate, the client stops offering past this many unacknowledged proposals (a node
/// that cannot keep up is reported by the achieved rate, not buried under a queue).
const MAX_BACKLOG: u64 = 50_000;

/// How proposals are offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// This many proposals per second, paced in 1 ms steps.
    Fixed(u32),
    /// As many as the cluster commits, [`WINDOW`] in flight.
    Saturation,
}

impl Rate {
    /// `2000`, `10000`, ... or `saturation`.
    pub fn parse(s: &str) -> Option<Self> {
        if s == "saturation" {
            return Some(Self::Saturation);
        }
        s.parse().ok().filter(|&r| r > 0).map(Self::Fixed)
    }

    /// Its name in the report.
    pub fn name(self) -> String {
        match self {
            Self::Fixed(r) => format!("{r}/s"),
            Self::Saturation => "saturation".to_owned(),
        }
    }
}

/// A running load; stops offering when dropped.
pub struct Load {
    stop: Arc<AtomicBool>,
    sender: Option<thread::JoinHandle<()>>,
}

impl Load {
    /// Connects to a node's client port and starts offering to `partitions` (not empty; the
    /// ones the node leads), in turn.
    pub fn start(node: SocketAddr, partitions: Vec<u32>, rate: Rate, seed: u64) -> io::Result<Self> {
        let stream = TcpStream::connect(node)?;
        stream.set_nodelay(true)?;
        let reader = stream.try_clone()?;
        let acked = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s) = (Arc::clone(&acked), Arc::clone(&stop));
        let send = thread::spawn(move || offer(stream, &partitions, rate, seed, &a, &s));
        // Ends when the node closes the connection (the orchestrator stops the nodes after
        // the load).
        thread::spawn(move || count_acks(reader, &acked));
        Ok(Self { stop, sender: Some(send) })
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(send) = self.sender.take() {
            let _ = send.join();
        }
    }
}

fn offer(stream: TcpStream, partitions: &[u32], rate: Rate, seed: u64, acked: &AtomicU64, stop: &AtomicBool) {
    let mut w = BufWriter::with_capacity(1 << 16, stream);
    let mut rng = seed | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let filler: Vec<u8> = (0..*PAYLOAD.end()).map(|i| (i * 31 % 251) as u8).collect();
    let mut frame = Vec::with_capacity(4 + *PAYLOAD.end());
    let mut partition = partitions.iter().cycle();
    let start = Instant::now();
    let mut sent = 0u64;
    while !stop.load(Ordering::Acquire) {
        let allowed = match rate {
            Rate::Fixed(r) => {
                let due = (start.elapsed().as_secs_f64() * f64::from(r)) as u64;
                due.min(acked.load(Ordering::Acquire) + MAX_BACKLOG)
            }
            Rate::Saturation => acked.load(Ordering::Acquire) + WINDOW,
        };
        while sent < allowed {
            let len = PAYLOAD.start() + (next() as usize) % (PAYLOAD.end() - PAYLOAD.start() + 1);
            let Some(p) = partition.next() else { return };
            frame.clear();
            frame.extend_from_slice(&p.to_le_bytes());
            frame.extend_from_slice(&next().to_le_bytes());
            frame.extend_from_slice(&filler[..len - 8]);
            if wire::write(&mut w, &frame).is_err() {
                return;
            }
            sent += 1;
        }
        if w.flush().is_err() {
            return;
        }
        thread::sleep(Duration::from_micros(if rate == Rate::Saturation { 200 } else { 1000 }));
    }
}

fn count_acks(mut stream: TcpStream, acked: &AtomicU64) {
    let mut n = [0u8; 4];
    while stream.read_exact(&mut n).is_ok() {
        acked.fetch_add(u64::from(u32::from_le_bytes(n)), Ordering::AcqRel);
    }
}
