//! One node: a raft-rs replica of each of the benchmark's groups (partitions) behind
//! `InstrumentedNode`, with a TCP transport (one connection per peer, every group's messages
//! framed with their partition), a WAL `fdatasync`ed once per `Ready` that has something to
//! persist, a map per group as state machine, a client port (proposals framed with their
//! partition, acknowledged once applied by the groups this node leads), and (recording on) the
//! `/metrics` endpoint.
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
use raft_metrics::raft::{Aggregation, RaftMetrics, RaftOptions};
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

/// A group's share of the node's memory for its log and map: `COMPACT_EVERY`, `KEEP` and `KEYS`
/// for one group, divided among many (down to a floor), so that a node of thousands of busy
/// groups holds about what a node of one does.
#[derive(Clone, Copy)]
struct Bounds {
    compact_every: u64,
    keep: u64,
    keys: u64,
}

impl Bounds {
    fn of(partitions: u32) -> Self {
        let p = u64::from(partitions.max(1));
        Self { compact_every: (COMPACT_EVERY / p).max(1_000), keep: (KEEP / p).max(100), keys: (KEYS / p).max(1_000) }
    }
}

/// How the orchestrator starts a node.
#[derive(Debug, Clone)]
pub struct Args {
    /// raft-rs node id, 1-based.
    pub id: u64,
    /// The groups every node is a replica of: partitions `0..partitions`.
    pub partitions: u32,
    /// The WAL's directory.
    pub dir: PathBuf,
    /// Whether the wrapper records at the start (the orchestrator switches it).
    pub recording: bool,
}

enum Event {
    Raft(u32, Message),
    Propose(u32, Vec<u8>),
    Client(TcpStream),
    Campaign,
    Recording(bool),
    Hibernate,
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
    // Many groups: the large-node mode the guide sets up for thousands of partitions (a
    // per-partition scrape of 1 000 groups is about 1 MB gzipped).
    let aggregation = if args.partitions > 1 { Aggregation::Unhealthy } else { Aggregation::Partition };
    let options = RaftOptions { aggregation, ..RaftOptions::default() };
    let metrics = RaftMetrics::with_options(&registry, &options).map_err(io::Error::other)?;
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
        let Some((partition, body)) = buf.split_first_chunk::<4>() else { return };
        let Ok(msg) = Message::parse_from_bytes(body) else { return };
        if tx.send(Event::Raft(u32::from_le_bytes(*partition), msg)).is_err() {
            return;
        }
    }
}

fn read_proposals(stream: TcpStream, tx: &Sender<Event>) {
    let mut r = io::BufReader::with_capacity(1 << 16, stream);
    let mut buf = Vec::new();
    while let Ok(true) = wire::read(&mut r, &mut buf) {
        let Some((partition, data)) = buf.split_first_chunk::<4>() else { return };
        if tx.send(Event::Propose(u32::from_le_bytes(*partition), data.to_vec())).is_err() {
            return;
        }
    }
}

/// What the control thread reports without asking the loop.
#[derive(Default)]
struct Status {
    /// Proposals applied, every group's (each node applies every proposal).
    applied: AtomicU64,
    /// Raft messages stepped and sent, and turns of the ready loop: what each proposal costs
    /// the node in hook calls.
    messages: AtomicU64,
    readies: AtomicU64,
    /// Ticks of every group (one per group per tick).
    ticks: AtomicU64,
    /// Partition 0 is led here; how many partitions are.
    leader: AtomicBool,
    leading: AtomicU64,
    quit: AtomicBool,
}

/// Answers the orchestrator: `mark` prints
/// `mark <cpu µs> <applied proposals> <leader 0|1> <messages> <readies> <group ticks> <groups led>`,
/// `campaign` starts the elections of the groups this node should lead (partition `p` on node
/// `p % nodes + 1`), `recording on|off` switches recording, `hibernate` stops ticking every group
/// (each told so, `InstrumentedNode::hibernate`, as a node hibernating its idle groups does),
/// `quit` (or the end of stdin) stops the node.
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
                    let ticks = status.ticks.load(Ordering::Acquire);
                    let leading = status.leading.load(Ordering::Acquire);
                    let mark =
                        format!("mark {} {applied} {leader} {messages} {readies} {ticks} {leading}", cpu::micros());
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
                "hibernate" => {
                    let _ = tx.send(Event::Hibernate);
                }
                "quit" => break,
                _ => {}
            }
        }
        status.quit.store(true, Ordering::Release);
    })
}

/// The Raft loop's state: the groups, and what they share.
struct Replica {
    id: u64,
    nodes: u64,
    groups: Vec<Group>,
    /// Groups that may have a `Ready`: stepped, proposed to or ticked since their last turn.
    dirty: Vec<u32>,
    wal: Wal,
    peers: Vec<Peer>,
    client: Option<BufWriter<TcpStream>>,
    /// Proposals applied, every group's; and those of the groups this node leads not yet
    /// acknowledged to the client (once per pass over the groups).
    applied: u64,
    acks: u32,
    messages: u64,
    readies: u64,
    ticks: u64,
    /// The groups tick from the campaign on: before it a follower's election timeout could
    /// elect another node (with thousands of groups, the nodes start seconds apart).
    campaigned: bool,
    /// Every group sleeps: the loop still wakes at each tick, and ticks none.
    hibernated: bool,
    frame: Vec<u8>,
}

/// One group's replica.
struct Group {
    node: InstrumentedNode<MemStorage>,
    mem: MemStorage,
    map: HashMap<u64, Vec<u8>>,
    bounds: Bounds,
    compacted_at: u64,
    dirty: bool,
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
        let mut groups = Vec::new();
        for partition in 0..args.partitions.max(1) {
            let mem = MemStorage::new_with_conf_state(ConfState::from((voters.clone(), vec![])));
            let raw = RawNode::new(&config, mem.clone(), &logger).map_err(io::Error::other)?;
            let node = InstrumentedNode::new(raw, metrics, TOPIC, partition).with_recording(args.recording);
            let bounds = Bounds::of(args.partitions);
            groups.push(Group { node, mem, map: HashMap::new(), bounds, compacted_at: 0, dirty: false });
        }
        let now = Instant::now();
        let peers = (1..=addrs.len() as u64)
            .filter(|&id| id != args.id)
            .map(|id| Peer { id, addr: addrs[index(id)], conn: None, retry_at: now })
            .collect();
        Ok(Self {
            id: args.id,
            nodes: addrs.len() as u64,
            groups,
            dirty: Vec::new(),
            wal: Wal::create(&args.dir)?,
            peers,
            client: None,
            applied: 0,
            acks: 0,
            messages: 0,
            readies: 0,
            ticks: 0,
            campaigned: false,
            hibernated: false,
            frame: Vec::new(),
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
            if !self.campaigned {
                next_tick = Instant::now() + TICK;
            } else if Instant::now() >= next_tick {
                if !self.hibernated {
                    for partition in 0..self.groups.len() {
                        self.groups[partition].node.tick();
                        self.mark_dirty(partition);
                    }
                    self.ticks += self.groups.len() as u64;
                }
                next_tick += TICK;
            }
            let mut turned = false;
            for partition in std::mem::take(&mut self.dirty) {
                let at = partition as usize;
                self.groups[at].dirty = false;
                if self.groups[at].node.has_ready() {
                    self.ready(at)?;
                    self.readies += 1;
                    turned = true;
                }
            }
            if turned {
                self.flush_peers();
                let acks = std::mem::take(&mut self.acks);
                self.ack(acks);
                let leading = self.groups.iter().filter(|g| g.node.raw().raft.state == StateRole::Leader).count();
                status.applied.store(self.applied, Ordering::Release);
                status.messages.store(self.messages, Ordering::Release);
                status.readies.store(self.readies, Ordering::Release);
                status.leader.store(self.groups[0].node.raw().raft.state == StateRole::Leader, Ordering::Release);
                status.leading.store(leading as u64, Ordering::Release);
            }
            status.ticks.store(self.ticks, Ordering::Release);
        }
        Ok(())
    }

    fn mark_dirty(&mut self, partition: usize) {
        let group = &mut self.groups[partition];
        if !group.dirty {
            group.dirty = true;
            self.dirty.push(partition as u32);
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Raft(partition, msg) => {
                let at = partition as usize;
                if at < self.groups.len() {
                    self.messages += 1;
                    let _ = self.groups[at].node.step(msg);
                    self.mark_dirty(at);
                }
            }
            // The client proposes to the groups this node was to lead (raft-rs forwards a
            // proposal to the leader from a follower that knows it, and drops it otherwise).
            Event::Propose(partition, data) => {
                let at = partition as usize;
                if at < self.groups.len() {
                    let _ = self.groups[at].node.propose(Vec::new(), data);
                    self.mark_dirty(at);
                }
            }
            Event::Client(stream) => self.client = Some(BufWriter::new(stream)),
            Event::Campaign => {
                self.campaigned = true;
                for partition in 0..self.groups.len() {
                    if partition as u64 % self.nodes + 1 == self.id {
                        let _ = self.groups[partition].node.campaign();
                        self.mark_dirty(partition);
                    }
                }
            }
            Event::Recording(on) => {
                for group in &mut self.groups {
                    group.node.set_recording(on);
                }
            }
            Event::Hibernate => {
                self.hibernated = true;
                for group in &mut self.groups {
                    group.node.hibernate();
                }
            }
        }
    }

    /// One turn of group `at`'s ready loop, as `InstrumentedNode`'s docs lay it out.
    fn ready(&mut self, at: usize) -> io::Result<()> {
        let partition = at as u32;
        let mut rd = self.groups[at].node.ready();
        let msgs = self.groups[at].node.outgoing(rd.take_messages());
        self.send(partition, msgs);
        let committed = self.groups[at].node.committed(rd.take_committed_entries());
        let mut acks = self.groups[at].apply(&committed);
        let (wal, group) = (&mut self.wal, &mut self.groups[at]);
        let mem = &group.mem;
        let hs = rd.hs().cloned();
        group.node.persist_entries(rd.entries(), |entries| {
            wal.append(entries, hs.as_ref())?;
            let mut store = mem.wl();
            store.append(entries).map_err(io::Error::other)?;
            if let Some(hs) = hs {
                store.set_hardstate(hs);
            }
            Ok::<_, io::Error>(())
        })?;
        let msgs = self.groups[at].node.outgoing(rd.take_persisted_messages());
        self.send(partition, msgs);
        let group = &mut self.groups[at];
        let mut light = group.node.advance(rd);
        if let Some(commit) = light.commit_index() {
            group.mem.wl().mut_hard_state().set_commit(commit);
        }
        let msgs = group.node.outgoing(light.take_messages());
        let committed = group.node.committed(light.take_committed_entries());
        self.send(partition, msgs);
        let group = &mut self.groups[at];
        acks += group.apply(&committed);
        group.node.advance_apply();
        group.compact();
        self.applied += u64::from(acks);
        if group.node.raw().raft.state == StateRole::Leader {
            self.acks += acks;
        }
        Ok(())
    }

    /// Flushes every peer connection (once per pass over the groups that had a turn).
    fn flush_peers(&mut self) {
        for peer in &mut self.peers {
            if let Some(conn) = &mut peer.conn {
                if conn.flush().is_err() {
                    peer.conn = None;
                }
            }
        }
    }

    /// Writes `msgs` of `partition` to their peers' connections (flushed after the pass).
    fn send(&mut self, partition: u32, msgs: Vec<Message>) {
        self.messages += msgs.len() as u64;
        for msg in msgs {
            let Some(peer) = self.peers.iter_mut().find(|p| p.id == msg.to) else { continue };
            self.frame.clear();
            self.frame.extend_from_slice(&partition.to_le_bytes());
            let sent = msg.write_to_vec(&mut self.frame).is_ok()
                && peer.conn().is_some_and(|conn| wire::write(conn, &self.frame).is_ok());
            let node = &mut self.groups[partition as usize].node;
            if sent {
                // Untimed: only a snapshot needs telling (the call was counted as sent).
                if msg.get_msg_type() == MessageType::MsgSnapshot {
                    node.on_delivered(&msg, None);
                }
            } else {
                peer.conn = None;
                node.on_send_failed(&msg);
            }
        }
    }

    /// Tells the client how many proposals the groups this node leads applied.
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
}

impl Group {
    /// Applies committed entries to the map; returns the proposals among them.
    fn apply(&mut self, entries: &[Entry]) -> u32 {
        if entries.is_empty() {
            return 0;
        }
        let (map, keys) = (&mut self.map, self.bounds.keys);
        let proposals = self.node.apply_entries(entries, |_| {
            let mut proposals = 0;
            for entry in entries {
                let data = entry.get_data();
                if entry.get_entry_type() == EntryType::EntryNormal && data.len() >= 8 {
                    let key = u64::from_le_bytes(data[..8].try_into().unwrap_or_default()) % keys;
                    map.insert(key, data.to_vec());
                    proposals += 1;
                }
            }
            proposals
        });
        proposals
    }

    fn compact(&mut self) {
        let applied = self.node.raw().raft.raft_log.applied;
        if applied < self.compacted_at + self.bounds.compact_every {
            return;
        }
        let to = applied - self.bounds.keep;
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
