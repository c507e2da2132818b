//! One node: a raft-rs replica of the benchmark's group behind `InstrumentedNode`, with a TCP
//! transport, a WAL `fdatasync`ed once per `Ready`, a map as state machine, a client port, and
//! (recording on) the `/metrics` endpoint.
//!
//! Threads: the Raft loop owns the node and everything it writes (peer connections, the WAL,
//! the map, the client's acknowledgements); one reader thread per inbound connection decodes
//! frames into the loop's queue; a control thread answers the orchestrator on stdin/stdout.
//! The loop drains its whole queue before each `Ready`, so a busy node batches.

use std::collections::HashMap;
use std::io::{self, BufRead, BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, EntryType, Message, MessageType};
use raft::storage::MemStorage;
use raft::{Config, RawNode, StateRole};
use raft_metrics::http::Server;
use raft_metrics::raft::RaftMetrics;
use raft_metrics::Registry;
use raft_metrics_raftrs::InstrumentedNode;

use super::wal::Wal;
use super::{cpu, wire, TOPIC};

/// raft-rs's usual tick.
const TICK: Duration = Duration::from_millis(100);
/// Applied entries between two compactions of the in-memory log, and how many it keeps.
const COMPACT_EVERY: u64 = 50_000;
const KEEP: u64 = 10_000;
/// Keys of the state machine: proposals overwrite, so the map stays bounded.
const KEYS: u64 = 100_000;
/// How long a failed peer connection is left alone before the next attempt.
const RECONNECT: Duration = Duration::from_millis(200);

/// How the orchestrator starts a node.
#[derive(Debug, Clone)]
pub struct Args {
    /// raft-rs node id, 1-based.
    pub id: u64,
    /// The WAL's directory.
    pub dir: PathBuf,
    /// Whether the wrapper records at the start (the orchestrator switches it).
    pub recording: bool,
}

enum Event {
    Raft(Message),
    Propose(Vec<u8>),
    Client(TcpStream),
    Campaign,
    Recording(bool),
}

/// Runs the node until stdin closes or says `quit`.
///
/// Start-up: the node binds its Raft, client and `/metrics` listeners on ports the kernel picks,
/// prints `listening RAFT CLIENT METRICS`, reads `peers A,B,C` (every node's Raft address, node
/// `i` at index `i - 1`) and prints `ready`. The ports are the node's own from the start: a port
/// the orchestrator picked and released could be taken before the node bound it (by any
/// connection's ephemeral port), which a CI run met as `Address already in use`.
pub fn run(args: &Args) -> io::Result<()> {
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let raft_listener = TcpListener::bind(any)?;
    let client_listener = TcpListener::bind(any)?;
    let registry = Arc::new(Registry::new());
    let metrics = RaftMetrics::with_registry(&registry).map_err(io::Error::other)?;
    // Served in both phases: only scraped while recording, an idle endpoint is a thread
    // blocked in `accept`.
    let server = Server::builder().bind(any).registry(Arc::clone(&registry)).start()?;
    let (raft_addr, client_addr) = (raft_listener.local_addr()?, client_listener.local_addr()?);
    say(&format!("listening {raft_addr} {client_addr} {}", server.local_addr()))?;
    let peers = read_peers()?;
    if peers.get(index(args.id)) != Some(&raft_addr) {
        return Err(io::Error::other(format!("node {}: not at its place in `peers`", args.id)));
    }

    let (tx, rx) = mpsc::channel();
    accept(raft_listener, tx.clone(), |stream, tx| read_messages(stream, &tx));
    accept(client_listener, tx.clone(), |stream, tx| {
        if let Ok(writer) = stream.try_clone() {
            let _ = tx.send(Event::Client(writer));
        }
        read_proposals(stream, &tx);
    });
    let status = Arc::new(Status::default());
    let control = control(Arc::clone(&status), tx);
    say("ready")?;

    let mut replica = Replica::new(args, &peers, &metrics)?;
    replica.run(&rx, &status)?;
    drop(server);
    let _ = control.join();
    Ok(())
}

/// One line to the orchestrator; an error once it is gone.
fn say(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// The orchestrator's `peers A,B,C` line.
fn read_peers() -> io::Result<Vec<SocketAddr>> {
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    let bad = || io::Error::other(format!("expected `peers A,B,C`, got `{}`", line.trim()));
    let list = line.trim().strip_prefix("peers ").ok_or_else(bad)?;
    list.split(',').map(|a| a.parse().map_err(|_| bad())).collect()
}

fn index(id: u64) -> usize {
    usize::try_from(id - 1).unwrap_or(usize::MAX)
}

/// Accepts connections forever, one thread each.
fn accept(listener: TcpListener, tx: Sender<Event>, serve: fn(TcpStream, Sender<Event>)) {
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_nodelay(true);
            let tx = tx.clone();
            thread::spawn(move || serve(stream, tx));
        }
    });
}

fn read_messages(stream: TcpStream, tx: &Sender<Event>) {
    let mut r = io::BufReader::with_capacity(1 << 16, stream);
    let mut buf = Vec::new();
    while let Ok(true) = wire::read(&mut r, &mut buf) {
        let Ok(msg) = Message::parse_from_bytes(&buf) else { return };
        if tx.send(Event::Raft(msg)).is_err() {
            return;
        }
    }
}

fn read_proposals(stream: TcpStream, tx: &Sender<Event>) {
    let mut r = io::BufReader::with_capacity(1 << 16, stream);
    let mut buf = Vec::new();
    while let Ok(true) = wire::read(&mut r, &mut buf) {
        if tx.send(Event::Propose(buf.clone())).is_err() {
            return;
        }
    }
}

/// What the control thread reports without asking the loop.
#[derive(Default)]
struct Status {
    applied: AtomicU64,
    /// Raft messages stepped and sent, and turns of the ready loop: what each proposal costs
    /// the node in hook calls.
    messages: AtomicU64,
    readies: AtomicU64,
    leader: AtomicBool,
    quit: AtomicBool,
}

/// Answers the orchestrator: `mark` prints
/// `mark <cpu µs> <applied proposals> <leader 0|1> <messages> <readies>`,
/// `campaign` starts an election, `recording on|off` switches recording, `quit` (or the end of
/// stdin) stops the node.
fn control(status: Arc<Status>, tx: Sender<Event>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let stdin = io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            match line.trim() {
                "mark" => {
                    let applied = status.applied.load(Ordering::Acquire);
                    let leader = u8::from(status.leader.load(Ordering::Acquire));
                    let messages = status.messages.load(Ordering::Acquire);
                    let readies = status.readies.load(Ordering::Acquire);
                    let mark = format!("mark {} {applied} {leader} {messages} {readies}", cpu::micros());
                    if say(&mark).is_err() {
                        break;
                    }
                }
                "campaign" => {
                    let _ = tx.send(Event::Campaign);
                }
                "recording on" | "recording off" => {
                    let _ = tx.send(Event::Recording(line.trim().ends_with("on")));
                }
                "quit" => break,
                _ => {}
            }
        }
        status.quit.store(true, Ordering::Release);
    })
}

/// The Raft loop's state.
struct Replica {
    node: InstrumentedNode<MemStorage>,
    mem: MemStorage,
    wal: Wal,
    peers: Vec<Peer>,
    map: HashMap<u64, Vec<u8>>,
    client: Option<BufWriter<TcpStream>>,
    applied: u64,
    messages: u64,
    readies: u64,
    compacted_at: u64,
}

/// The connection to one peer, opened on first use and again after a failure.
struct Peer {
    id: u64,
    addr: SocketAddr,
    conn: Option<BufWriter<TcpStream>>,
    retry_at: Instant,
}

impl Replica {
    fn new(args: &Args, addrs: &[SocketAddr], metrics: &RaftMetrics) -> io::Result<Self> {
        let voters: Vec<u64> = (1..=addrs.len() as u64).collect();
        let mem = MemStorage::new_with_conf_state(ConfState::from((voters, vec![])));
        let config = Config {
            id: args.id,
            election_tick: 10,
            heartbeat_tick: 3,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            check_quorum: true,
            pre_vote: true,
            ..Config::default()
        };
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let raw = RawNode::new(&config, mem.clone(), &logger).map_err(io::Error::other)?;
        let node = InstrumentedNode::new(raw, metrics, TOPIC, 0).with_recording(args.recording);
        let now = Instant::now();
        let peers = (1..=addrs.len() as u64)
            .filter(|&id| id != args.id)
            .map(|id| Peer { id, addr: addrs[index(id)], conn: None, retry_at: now })
            .collect();
        Ok(Self {
            node,
            mem,
            wal: Wal::create(&args.dir)?,
            peers,
            map: HashMap::new(),
            client: None,
            applied: 0,
            messages: 0,
            readies: 0,
            compacted_at: 0,
        })
    }

    fn run(&mut self, rx: &Receiver<Event>, status: &Status) -> io::Result<()> {
        let mut next_tick = Instant::now() + TICK;
        while !status.quit.load(Ordering::Acquire) {
            let wait = next_tick.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(event) => self.handle(event),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            while let Ok(event) = rx.try_recv() {
                self.handle(event);
            }
            if Instant::now() >= next_tick {
                self.node.tick();
                next_tick += TICK;
            }
            if self.node.has_ready() {
                self.ready()?;
                self.readies += 1;
                status.applied.store(self.applied, Ordering::Release);
                status.messages.store(self.messages, Ordering::Release);
                status.readies.store(self.readies, Ordering::Release);
                status.leader.store(self.node.raw().raft.state == StateRole::Leader, Ordering::Release);
            }
        }
        Ok(())
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Raft(msg) => {
                self.messages += 1;
                let _ = self.node.step(msg);
            }
            // A follower drops proposals: the client only talks to the leader.
            Event::Propose(data) => {
                let _ = self.node.propose(Vec::new(), data);
            }
            Event::Client(stream) => self.client = Some(BufWriter::new(stream)),
            Event::Campaign => {
                let _ = self.node.campaign();
            }
            Event::Recording(on) => self.node.set_recording(on),
        }
    }

    /// One turn of the ready loop, as `InstrumentedNode`'s docs lay it out.
    fn ready(&mut self) -> io::Result<()> {
        let mut rd = self.node.ready();
        let msgs = self.node.outgoing(rd.take_messages());
        self.send(msgs);
        let committed = self.node.committed(rd.take_committed_entries());
        let mut acks = self.apply(&committed);
        let (wal, mem) = (&mut self.wal, &self.mem);
        let hs = rd.hs().cloned();
        self.node.persist_entries(rd.entries(), |entries| {
            wal.append(entries, hs.as_ref())?;
            let mut store = mem.wl();
            store.append(entries).map_err(io::Error::other)?;
            if let Some(hs) = hs {
                store.set_hardstate(hs);
            }
            Ok::<_, io::Error>(())
        })?;
        let msgs = self.node.outgoing(rd.take_persisted_messages());
        self.send(msgs);
        let mut light = self.node.advance(rd);
        if let Some(commit) = light.commit_index() {
            self.mem.wl().mut_hard_state().set_commit(commit);
        }
        let msgs = self.node.outgoing(light.take_messages());
        self.send(msgs);
        let committed = self.node.committed(light.take_committed_entries());
        acks += self.apply(&committed);
        self.node.advance_apply();
        for peer in &mut self.peers {
            if let Some(conn) = &mut peer.conn {
                if conn.flush().is_err() {
                    peer.conn = None;
                }
            }
        }
        self.ack(acks);
        self.compact();
        Ok(())
    }

    /// Writes `msgs` to their peers' connections (flushed at the end of the turn).
    fn send(&mut self, msgs: Vec<Message>) {
        self.messages += msgs.len() as u64;
        for msg in msgs {
            let Some(peer) = self.peers.iter_mut().find(|p| p.id == msg.to) else { continue };
            let sent = peer
                .conn()
                .is_some_and(|conn| msg.write_to_bytes().is_ok_and(|bytes| wire::write(conn, &bytes).is_ok()));
            if sent {
                // Untimed: only a snapshot needs telling (the call was counted as sent).
                if msg.get_msg_type() == MessageType::MsgSnapshot {
                    self.node.on_delivered(&msg, None);
                }
            } else {
                peer.conn = None;
                self.node.on_send_failed(&msg);
            }
        }
    }

    /// Applies committed entries to the map; returns the proposals among them.
    fn apply(&mut self, entries: &[Entry]) -> u32 {
        if entries.is_empty() {
            return 0;
        }
        let map = &mut self.map;
        let proposals = self.node.apply_entries(entries, |_| {
            let mut proposals = 0;
            for entry in entries {
                let data = entry.get_data();
                if entry.get_entry_type() == EntryType::EntryNormal && data.len() >= 8 {
                    let key = u64::from_le_bytes(data[..8].try_into().unwrap_or_default()) % KEYS;
                    map.insert(key, data.to_vec());
                    proposals += 1;
                }
            }
            proposals
        });
        self.applied += u64::from(proposals);
        proposals
    }

    /// Tells the client how many of its proposals were applied (the leader only has one).
    fn ack(&mut self, proposals: u32) {
        if proposals == 0 {
            return;
        }
        if let Some(client) = &mut self.client {
            if client.write_all(&proposals.to_le_bytes()).and_then(|()| client.flush()).is_err() {
                self.client = None;
            }
        }
    }

    fn compact(&mut self) {
        let applied = self.node.raw().raft.raft_log.applied;
        if applied < self.compacted_at + COMPACT_EVERY {
            return;
        }
        let to = applied - KEEP;
        if self.mem.wl().compact(to).is_ok() {
            self.node.observe_compaction(to);
            self.compacted_at = applied;
        }
    }
}

impl Peer {
    /// The open connection, opening it if the last failure is old enough.
    fn conn(&mut self) -> Option<&mut BufWriter<TcpStream>> {
        if self.conn.is_none() {
            let now = Instant::now();
            if now < self.retry_at {
                return None;
            }
            self.retry_at = now + RECONNECT;
            let stream = TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).ok()?;
            let _ = stream.set_nodelay(true);
            self.conn = Some(BufWriter::with_capacity(1 << 16, stream));
        }
        self.conn.as_mut()
    }
}
