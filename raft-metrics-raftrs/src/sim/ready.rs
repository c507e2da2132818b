//! The ready loop of one replica, the way [`InstrumentedNode`]'s docs lay it out, with the
//! node's slow-machine faults applied: a slow disk, a slow or stalled state machine.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use protobuf::Message as _;
use raft::eraftpb::{ConfChange, ConfChangeType, ConfChangeV2, Entry, EntryType, Message};
use raft::storage::MemStorage;

use super::faults::Slowness;
use super::network::Envelope;
use super::replica::Replica;
use super::store::{lock, StateMachine};
use super::Store;
use crate::InstrumentedNode;

impl Replica {
    /// One turn of the ready loop, the way `InstrumentedNode`'s docs lay it out. Returns whether
    /// there was anything to do.
    pub(super) fn handle_ready(
        &mut self,
        partition: u32,
        slow: Slowness,
        out: &mut Vec<Envelope>,
        removed: &mut Vec<(u32, u64)>,
    ) -> bool {
        let Self { node, mem, sm, backlog } = self;
        if !node.has_ready() {
            if backlog.is_empty() || slow.apply_stalled {
                return false;
            }
            // The stall is over: apply what queued up.
            let queued: Vec<Entry> = backlog.drain(..).collect();
            apply(node, mem, sm, partition, &queued, removed, slow.apply);
            let applied = lock(sm).applied();
            node.advance_apply_to(applied);
            return true;
        }
        let mut rd = ready(node);
        // Sent now: the messages go out in this turn of the loop.
        let now = node.rpc_timed().then(crate::clock::read);
        let mut send = |msgs: Vec<Message>| {
            out.extend(msgs.into_iter().map(|msg| Envelope { partition, msg, sent_at: now, due: None }))
        };
        send(node.outgoing(rd.take_messages()));
        if !rd.snapshot().is_empty() {
            node.apply_snapshot(rd.snapshot(), |s| {
                mem.wl().apply_snapshot(s.clone())?;
                lock(sm).restore(s.get_metadata().index, s.get_data());
                // Entries the snapshot covers are in the state machine now.
                backlog.retain(|e| e.index > s.get_metadata().index);
                Ok::<_, raft::Error>(())
            })
            .expect("MemStorage refused a snapshot raft-rs handed out");
        }
        let committed = node.committed(rd.take_committed_entries());
        apply_or_queue(node, mem, sm, backlog, partition, committed, removed, slow);
        node.persist_entries(rd.entries(), |entries| {
            if !entries.is_empty() && !slow.disk.is_zero() {
                std::thread::sleep(slow.disk);
            }
            let mut store = mem.wl();
            store.append(entries)?;
            if let Some(hs) = rd.hs() {
                store.set_hardstate(hs.clone());
            }
            Ok::<_, raft::Error>(())
        })
        .expect("MemStorage refused entries raft-rs handed out");
        send(node.outgoing(rd.take_persisted_messages()));
        // `advance` would also mark every committed entry applied: not while some are queued.
        let mut light =
            if backlog.is_empty() && !slow.apply_stalled { advance(node, rd) } else { node.advance_append(rd) };
        if let Some(commit) = light.commit_index() {
            mem.wl().mut_hard_state().set_commit(commit);
        }
        send(node.outgoing(light.take_messages()));
        let committed = node.committed(light.take_committed_entries());
        apply_or_queue(node, mem, sm, backlog, partition, committed, removed, slow);
        if backlog.is_empty() {
            node.advance_apply();
        } else {
            // Applied up to the state machine's index: the rest is queued.
            let applied = lock(sm).applied();
            if applied > node.raw().raft.raft_log.applied {
                node.advance_apply_to(applied);
            }
        }
        true
    }
}

/// `node.ready()`, out of line, as [`advance`]: whether the inliner takes raft-rs's `ready` and
/// `advance` (thousands of instructions each) into this loop follows the size of the hooks
/// inlined here, so any change to them flipped it and moved both variants of the instruction
/// benchmark by 0.2 % of instructions (`benches/notes/raft_loop.md`, 2026-12-06). Out of line in
/// every build, the benchmark compares the hooks, not the inliner's choices.
#[inline(never)]
fn ready(node: &mut InstrumentedNode<Store>) -> raft::Ready {
    node.ready()
}

/// `node.advance(rd)`, out of line (see [`ready`]).
#[inline(never)]
fn advance(node: &mut InstrumentedNode<Store>, rd: raft::Ready) -> raft::LightReady {
    node.advance(rd)
}

/// Applies committed entries, or queues them while the node's apply is stalled (and behind the
/// ones already queued).
#[allow(clippy::too_many_arguments)] // the replica's parts, borrowed apart
fn apply_or_queue(
    node: &mut InstrumentedNode<Store>,
    mem: &MemStorage,
    sm: &Mutex<StateMachine>,
    backlog: &mut VecDeque<Entry>,
    partition: u32,
    entries: Vec<Entry>,
    removed: &mut Vec<(u32, u64)>,
    slow: Slowness,
) {
    if backlog.is_empty() && !slow.apply_stalled {
        apply(node, mem, sm, partition, &entries, removed, slow.apply);
        return;
    }
    backlog.extend(entries);
    if !slow.apply_stalled {
        let queued: Vec<Entry> = backlog.drain(..).collect();
        apply(node, mem, sm, partition, &queued, removed, slow.apply);
    }
}

/// Applies committed entries to the state machine and configuration changes to raft-rs, then
/// reports the batch's duration.
fn apply(
    node: &mut InstrumentedNode<Store>,
    mem: &MemStorage,
    sm: &Mutex<StateMachine>,
    partition: u32,
    entries: &[Entry],
    removed: &mut Vec<(u32, u64)>,
    latency: Duration,
) {
    if entries.is_empty() {
        return;
    }
    node.apply_entries(entries, |node| apply_batch(node, mem, sm, partition, entries, removed, latency));
}

/// What [`apply`] runs inside the node's `apply_entries`, out of line as [`ready`]: whether the
/// inliner takes it into the hook followed the hook's shape (the same call at the end of both of
/// its paths was taken in, and cost the recording-off loop 144 instructions per proposal of
/// `one_per_turn` more), so the benchmark would compare the inliner's choices, not the hooks.
#[allow(clippy::too_many_arguments)] // the replica's parts, borrowed apart
#[inline(never)]
fn apply_batch(
    node: &mut InstrumentedNode<Store>,
    mem: &MemStorage,
    sm: &Mutex<StateMachine>,
    partition: u32,
    entries: &[Entry],
    removed: &mut Vec<(u32, u64)>,
    latency: Duration,
) {
    if !latency.is_zero() {
        std::thread::sleep(latency);
    }
    for entry in entries {
        let conf_state = match entry.get_entry_type() {
            EntryType::EntryNormal => None,
            EntryType::EntryConfChange => {
                let mut cc = ConfChange::default();
                cc.merge_from_bytes(entry.get_data()).expect("a conf change raft-rs accepted decodes");
                if cc.get_change_type() == ConfChangeType::RemoveNode {
                    removed.push((partition, cc.node_id));
                }
                Some(node.apply_conf_change(&cc))
            }
            EntryType::EntryConfChangeV2 => {
                let mut cc = ConfChangeV2::default();
                cc.merge_from_bytes(entry.get_data()).expect("a conf change raft-rs accepted decodes");
                for change in cc.get_changes() {
                    if change.get_change_type() == ConfChangeType::RemoveNode {
                        removed.push((partition, change.node_id));
                    }
                }
                Some(node.apply_conf_change(&cc))
            }
        };
        if let Some(conf_state) = conf_state {
            mem.wl().set_conf_state(conf_state.expect("raft-rs applies the conf changes it committed"));
        }
        lock(sm).apply(entry);
    }
}
