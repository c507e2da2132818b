//! [`Leaders`]: the peers that send this node AppendEntries, found per request without a lock,
//! a reference count or a retry loop.
//!
//! A follower counts each request under its sender (`append_entries_received_total{peer}`), and
//! requests arrive all the time while their sender changes only with the leader. So each
//! leader the group meets gets a slot, set once and kept for the group's life, and one index
//! names the slot of the last sender: a request from it costs a load of the index, a load of the
//! slot and a comparison of ids. A new sender costs a scan of the slots (and the peer map's lock
//! once, to fill its slot).
//!
//! `arc_swap` did the same with one swappable `Arc`, at ~60 instructions per load (its debt list
//! makes a reader safe against a concurrent swap freeing the value); slots that are never freed
//! need none of that, and `OnceLock` publishes each slot's contents, so this module has no
//! unsafe code.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// How many distinct senders get a slot. A group meets a new leader only when its membership
/// changes; past this many over its life, the others are found through the peer map (a lock
/// per request: slower, still exact).
pub(crate) const SLOTS: usize = 8;

/// The senders of AppendEntries this node has met: node id `N`, what the group keeps for the
/// peer `P` (its series).
pub(crate) struct Leaders<N, P> {
    /// Filled in order, each once.
    slots: [OnceLock<(N, P)>; SLOTS],
    /// The slot of the last sender.
    current: AtomicUsize,
}

impl<N, P> Default for Leaders<N, P> {
    fn default() -> Self {
        Self { slots: [const { OnceLock::new() }; SLOTS], current: AtomicUsize::new(0) }
    }
}

impl<N: Eq + Clone, P> Leaders<N, P> {
    /// The peer `id` when it sent the last request this node saw (the common case), else the
    /// slot's peer for it after making it the last sender (filling a free slot with `peer()`),
    /// else (every slot taken by others) `None`.
    #[inline]
    pub(crate) fn get(&self, id: &N, peer: impl Fn() -> P) -> Option<&P> {
        // Relaxed: the index publishes nothing; the slot's `OnceLock` publishes its contents
        // (an acquire load in `get`). A stale index names another filled slot, whose id then
        // differs: the scan below finds the right one.
        let last = self.slots.get(self.current.load(Ordering::Relaxed)).and_then(OnceLock::get);
        match last {
            Some((sender, p)) if sender == id => Some(p),
            _ => self.switch(id, peer),
        }
    }

    #[cold]
    fn switch(&self, id: &N, peer: impl Fn() -> P) -> Option<&P> {
        for (i, slot) in self.slots.iter().enumerate() {
            // Slots fill in order, so the first empty one means `id` has none: claim it (a
            // concurrent caller may claim it first, for its own id; then go on).
            let (sender, p) = slot.get_or_init(|| (id.clone(), peer()));
            if sender == id {
                // Relaxed: as in `get`.
                self.current.store(i, Ordering::Relaxed);
                return Some(p);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;

    /// Counts the peers made (the group's peer map takes its lock for each).
    #[derive(Default)]
    struct Made(AtomicU64);

    impl Made {
        fn peer(&self, id: usize) -> String {
            self.0.fetch_add(1, Ordering::Relaxed);
            id.to_string()
        }
    }

    #[test]
    fn each_sender_is_found_under_its_own_id() {
        let made = Made::default();
        let leaders = Leaders::default();
        for round in 0..3 {
            for id in [0, 1, 1, 2, 0, 3, 3, 3] {
                let p = leaders.get(&id, || made.peer(id)).expect("a slot");
                assert_eq!(*p, id.to_string(), "round {round}");
            }
        }
        assert_eq!(made.0.load(Ordering::Relaxed), 4, "one slot per sender, filled once");
    }

    #[test]
    fn past_the_slots_a_sender_is_left_to_the_map() {
        let made = Made::default();
        let leaders = Leaders::default();
        for id in 0..SLOTS {
            assert!(leaders.get(&id, || made.peer(id)).is_some());
        }
        assert_eq!(leaders.get(&SLOTS, || made.peer(SLOTS)), None, "no slot left");
        assert_eq!(leaders.get(&0, || made.peer(0)).map(String::as_str), Some("0"), "the first keeps its slot");
    }

    /// Threads that see the sender change under them (runs of 16 requests per sender, shifted
    /// per thread, all racing to claim the slots and to move the index) find every request's
    /// own sender, and each sender gets one slot.
    #[test]
    fn concurrent_senders_are_found_exactly() {
        const THREADS: usize = 4;
        const REQUESTS: usize = 20_000;
        const SENDERS: usize = SLOTS + 2;
        let made = Made::default();
        let leaders = Leaders::default();
        let found: Vec<AtomicU64> = (0..SENDERS).map(|_| AtomicU64::new(0)).collect();
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let (made, leaders, found) = (&made, &leaders, &found);
                scope.spawn(move || {
                    for r in 0..REQUESTS {
                        let id = (r / 16 + t) % SENDERS;
                        let sender = leaders.get(&id, || made.peer(id)).cloned().unwrap_or_else(|| id.to_string());
                        found[sender.parse::<usize>().expect("an id")].fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        for (id, n) in found.iter().enumerate() {
            let expected = (0..THREADS).map(|t| (0..REQUESTS).filter(|r| (r / 16 + t) % SENDERS == id).count());
            assert_eq!(n.load(Ordering::Relaxed), expected.sum::<usize>() as u64, "sender {id}");
        }
        assert_eq!(made.0.load(Ordering::Relaxed), SLOTS as u64, "one slot per sender while slots last");
    }
}
