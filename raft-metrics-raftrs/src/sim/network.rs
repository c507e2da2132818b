//! The simulated transport: one FIFO queue of messages, the state of every directed link (cut,
//! delayed, with latency), the messages held or travelling on them, and the trace of each
//! message's fate.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use raft::eraftpb::Message;

/// What happened to one message, recorded when tracing is on
/// ([`Cluster::trace`](super::Cluster::trace)).
#[derive(Debug, Clone)]
pub enum Event {
    /// A replica sent `msg` (before any fault applies).
    Sent {
        /// The group.
        partition: u32,
        /// The message.
        msg: Message,
    },
    /// `msg` reached its target, whose term was `receiver_term` just before stepping it.
    Delivered {
        /// The group.
        partition: u32,
        /// The message.
        msg: Message,
        /// The receiver's term before the step.
        receiver_term: u64,
    },
    /// `msg` was lost: a node down, a link cut, or no such replica.
    Dropped {
        /// The group.
        partition: u32,
        /// The message.
        msg: Message,
    },
}

/// A message on its way.
pub(super) struct Envelope {
    pub(super) partition: u32,
    pub(super) msg: Message,
    /// When the sender's ready loop handed it out (a `clock` reading); `None` when recording is
    /// off.
    pub(super) sent_at: Option<u64>,
    /// On a link with latency: when it arrives (`None` until it is put on the link).
    pub(super) due: Option<Instant>,
}

/// The messages in the cluster and the links they travel.
#[derive(Default)]
pub(super) struct Network {
    queue: VecDeque<Envelope>,
    /// Directed links whose messages are lost.
    cut: BTreeSet<(u64, u64)>,
    /// Directed links whose messages wait in `held` until healed.
    delayed: BTreeSet<(u64, u64)>,
    held: Vec<Envelope>,
    /// Directed links with latency, and the messages travelling on them.
    latency: BTreeMap<(u64, u64), Duration>,
    in_flight: Vec<Envelope>,
    trace: Option<Vec<Event>>,
}

impl Network {
    /// Loses every message from `from` to `to`.
    pub(super) fn cut(&mut self, from: u64, to: u64) {
        self.cut.insert((from, to));
    }

    /// Whether messages from `from` to `to` are lost.
    pub(super) fn is_cut(&self, from: u64, to: u64) -> bool {
        self.cut.contains(&(from, to))
    }

    /// Holds messages from `from` to `to` until healed.
    pub(super) fn delay(&mut self, from: u64, to: u64) {
        self.delayed.insert((from, to));
    }

    /// Restores the links `links`, releasing the messages they held.
    pub(super) fn heal(&mut self, links: impl IntoIterator<Item = (u64, u64)>) {
        for link in links {
            self.cut.remove(&link);
            self.delayed.remove(&link);
        }
        self.release_held();
    }

    /// Restores every link, releasing the messages they held.
    pub(super) fn heal_all(&mut self) {
        self.cut.clear();
        self.delayed.clear();
        self.release_held();
    }

    /// Delays every message from `from` to `to` by `latency` (zero: none).
    pub(super) fn set_latency(&mut self, from: u64, to: u64, latency: Duration) {
        if latency.is_zero() {
            self.latency.remove(&(from, to));
        } else {
            self.latency.insert((from, to), latency);
        }
    }

    /// Queues messages a ready loop sent.
    pub(super) fn send(&mut self, out: Vec<Envelope>) {
        if let Some(trace) = &mut self.trace {
            trace.extend(out.iter().map(|e| Event::Sent { partition: e.partition, msg: e.msg.clone() }));
        }
        self.queue.extend(out);
    }

    /// Whether no message is queued for delivery.
    pub(super) fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// The queued messages, in order, for delivery.
    pub(super) fn take_queued(&mut self) -> Vec<Envelope> {
        self.queue.drain(..).collect()
    }

    /// `envelope` when its link lets it through now; otherwise the link keeps it (held on a
    /// delayed link, or put on a link with latency).
    pub(super) fn route(&mut self, envelope: Envelope) -> Option<Envelope> {
        let (from, to) = (envelope.msg.from, envelope.msg.to);
        if self.delayed.contains(&(from, to)) {
            self.held.push(envelope);
            return None;
        }
        let mut envelope = envelope;
        if let (Some(&latency), None) = (self.latency.get(&(from, to)), envelope.due) {
            envelope.due = Some(Instant::now() + latency);
            self.in_flight.push(envelope);
            return None;
        }
        Some(envelope)
    }

    /// Puts the messages whose link latency has passed back in the delivery queue, in order.
    pub(super) fn release_arrived(&mut self) {
        if self.in_flight.is_empty() {
            return;
        }
        let now = Instant::now();
        let (arrived, travelling): (Vec<Envelope>, Vec<Envelope>) =
            std::mem::take(&mut self.in_flight).into_iter().partition(|e| e.due.is_some_and(|due| due <= now));
        self.in_flight = travelling;
        self.queue.extend(arrived);
    }

    fn release_held(&mut self) {
        let (waiting, released): (Vec<Envelope>, Vec<Envelope>) =
            std::mem::take(&mut self.held).into_iter().partition(|e| self.delayed.contains(&(e.msg.from, e.msg.to)));
        self.held = waiting;
        self.queue.extend(released);
    }

    /// Records every message's fate from now on.
    pub(super) fn start_trace(&mut self) {
        self.trace.get_or_insert_with(Vec::new);
    }

    /// The events recorded since the last call (empty when tracing is off).
    pub(super) fn take_trace(&mut self) -> Vec<Event> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Records the event `event` builds, when tracing is on.
    #[inline]
    pub(super) fn record(&mut self, event: impl FnOnce() -> Event) {
        if let Some(trace) = &mut self.trace {
            trace.push(event());
        }
    }
}
