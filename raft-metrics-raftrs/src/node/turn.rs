//! The node's time: raft-rs's tick count, the turn's clock, and whether the turn is timed.

use raft_metrics::Sampling;

use super::timing::Samplers;
use crate::clock::Clock;

/// Where the node is in time, shared by every state that times or stamps something.
pub(super) struct Turn {
    /// The turn's [`clock`](crate::clock) reading, read lazily.
    pub(super) clock: Clock,
    /// Whether the turn is timed, and its messages (a sampler of their own, since a turn sends
    /// many).
    pub(super) samplers: Samplers,
    /// Ticks since the wrapper was created (raft-rs's clock, which `isr_size` silence counts).
    pub(super) ticks: u64,
    /// The clock reading of the last tick, read when first needed after it (an idle group's
    /// tick reads no clock).
    tick_at: Option<u64>,
}

impl Turn {
    /// `seed` distinguishes the node's sequence of timed turns from other nodes'.
    pub(super) fn new(timing: Sampling, rpc_timing: Sampling, budget: u32, seed: u64) -> Self {
        let mut clock = Clock::new();
        let tick_at = Some(clock.now());
        Self { clock, samplers: Samplers::new(timing, rpc_timing, budget, seed), ticks: 0, tick_at }
    }

    /// A tick of raft-rs's clock, which starts a turn (and paces the samplers).
    #[inline]
    pub(super) fn tick(&mut self) {
        self.samplers.tick();
        self.ticks += 1;
        self.clock.tick(self.ticks);
        self.tick_at = None;
    }

    /// The time of the last tick, within the tick: the first call after it reads the turn's
    /// clock, the later ones share that reading.
    #[inline]
    pub(super) fn tick_at(&mut self) -> u64 {
        match self.tick_at {
            Some(at) => at,
            None => self.read_tick_at(),
        }
    }

    #[cold]
    #[inline(never)]
    fn read_tick_at(&mut self) -> u64 {
        let at = self.clock.now();
        self.tick_at = Some(at);
        at
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
