//! The node's time: raft-rs's tick count, the turn's clock, and whether the turn is timed.

use raft_metrics::Sampling;

use super::timing::Samplers;
use crate::clock::Clock;

/// Where the node is in time, shared by every state that times or stamps something.
///
/// In this order (`repr(C)`; it starts a cache line, after `Quiet`): an idle group's turn (a
/// heartbeat or its answer) catches up with the ticks and starts, and touches one line: the
/// clock's turn, the tick count and the samplers' countdown to their next sampled turn (their
/// own countdowns, on the next line, are taken down at sampled turns).
#[repr(C)]
pub(super) struct Turn {
    /// The turn's [`clock`](crate::clock) reading, read lazily.
    pub(super) clock: Clock,
    /// The tick count the turn has caught up with ([`catch_up`](Self::catch_up)).
    pub(super) ticks: u64,
    /// Whether the turn is timed, and its messages (a sampler of their own, since a turn sends
    /// many).
    pub(super) samplers: Samplers,
}

// The first line holds the clock, the tick count and what a turn and a quiet tick use of the
// samplers (all before their samplers' fields).
const _: () =
    assert!(core::mem::offset_of!(Turn, samplers) + Samplers::TURN_BYTES <= 64, "a turn touches one cache line");

impl Turn {
    /// `seed` distinguishes the node's sequence of timed turns from other nodes'.
    pub(super) fn new(timing: Sampling, rpc_timing: Sampling, budget: u32, seed: u64) -> Self {
        Self { samplers: Samplers::new(timing, rpc_timing, budget, seed), ticks: 0, clock: Clock::new() }
    }

    /// Catches up with the node's tick count (`ticks`, the idle state's), which moved since the
    /// last call (the node's tick says so: [`Idle::ticked`](super::idle::Idle::ticked)): each
    /// tick starts a turn, paces the samplers and now and then re-anchors the clock. Done when
    /// the turn is next used rather than at the tick, so that an idle group's quiet tick leaves
    /// the turn's cache lines alone (`node/mod.rs`); the result is the same as ticking it each
    /// time.
    #[inline(never)]
    pub(super) fn catch_up(&mut self, ticks: u64) {
        // The first tick ends the turns counted since the last; the ticks after it saw no turn,
        // and a second tick with none puts a paced sampler back to its rate, as any more would
        // (one at its rate already, an idle group's, is left as it is by a tick without turns).
        self.samplers.tick();
        if ticks - self.ticks > 1 && self.samplers.paced() {
            self.samplers.tick();
        }
        self.clock.ticked(self.ticks, ticks);
        self.ticks = ticks;
    }

    /// A ready starts a turn: timed or not, its messages timed or not.
    #[inline]
    pub(super) fn start(&mut self) {
        self.clock.new_turn();
        self.samplers.next_turn();
    }

    /// Whether the current turn is timed.
    #[inline]
    pub(super) fn timed(&self) -> bool {
        self.samplers.timed()
    }

    /// The weight of an observation made in a timed turn.
    #[inline]
    pub(super) fn weight(&self) -> u64 {
        self.samplers.weight()
    }
}

#[cfg(test)]
mod tests {
    use core::num::NonZeroU32;

    use super::*;

    /// The timed turns and their weights when `sync` runs at every tick, or only before a turn
    /// (what an idle group's quiet ticks leave it to): a busy tick (paced), quiet ticks, turns.
    fn timed(sync_every_tick: bool) -> Vec<(bool, u64)> {
        let every_8 = Sampling::OneIn(NonZeroU32::new(8).expect("8"));
        let mut turn = Turn::new(every_8, every_8, 8, 42);
        let mut seen = Vec::new();
        let mut ticks = 0;
        // What the node's tick flag decides: catch up when the count moved.
        let sync = |turn: &mut Turn, ticks: u64| {
            if turn.ticks != ticks {
                turn.catch_up(ticks);
            }
        };
        for (quiet, turns) in [(0, 400), (5, 40), (1, 300), (0, 300), (3, 50)] {
            for _ in 0..=quiet {
                ticks += 1;
                if sync_every_tick {
                    sync(&mut turn, ticks);
                }
            }
            for _ in 0..turns {
                sync(&mut turn, ticks);
                turn.start();
                seen.push((turn.timed(), turn.weight()));
            }
        }
        seen
    }

    #[test]
    fn ticks_caught_up_at_once_sample_as_ticked_one_by_one() {
        let (each, at_once) = (timed(true), timed(false));
        assert_eq!(each, at_once);
        assert!(each.iter().any(|&(timed, weight)| timed && weight > 8), "a busy tick was paced");
    }
}
