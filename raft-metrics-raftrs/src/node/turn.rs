//! The node's time: raft-rs's tick count, the turn's clock, and whether the turn is timed.

use raft_metrics::Sampling;

use super::timing::TurnSampler;
use crate::clock::Clock;

/// Where the node is in time, shared by every state that times or stamps something.
pub(super) struct Turn {
    /// The turn's [`clock`](crate::clock) reading, read lazily.
    pub(super) clock: Clock,
    pub(super) sampler: TurnSampler,
    /// Whether the turn's messages are timed: a sampler of its own, since a turn sends many.
    pub(super) rpc: TurnSampler,
    /// Ticks since the wrapper was created (raft-rs's clock, which `isr_size` silence counts).
    pub(super) ticks: u64,
    /// The clock reading of the last tick.
    pub(super) tick_at: u64,
}

impl Turn {
    /// `seed` distinguishes the node's sequence of timed turns from other nodes'.
    pub(super) fn new(timing: Sampling, rpc_timing: Sampling, seed: u64) -> Self {
        let mut clock = Clock::new();
        let tick_at = clock.now();
        let (sampler, rpc) = (TurnSampler::new(timing, seed), TurnSampler::new(rpc_timing, rpc_seed(seed)));
        Self { clock, sampler, rpc, ticks: 0, tick_at }
    }

    /// A tick of raft-rs's clock, which starts a turn.
    pub(super) fn tick(&mut self) {
        self.ticks += 1;
        self.clock.tick(self.ticks);
        self.tick_at = self.clock.now();
    }

    /// A ready starts a turn: timed or not, its messages timed or not.
    #[inline]
    pub(super) fn start(&mut self) {
        self.clock.new_turn();
        self.sampler.next_turn();
        self.rpc.next_turn();
    }

    /// Whether the current turn is timed.
    #[inline]
    pub(super) fn timed(&self) -> bool {
        self.sampler.timed()
    }

    /// The weight of an observation made in a timed turn.
    #[inline]
    pub(super) fn weight(&self) -> u64 {
        self.sampler.weight()
    }
}

/// The RPC sampler's seed: its own sequence, independent of the turn sampler's.
pub(super) fn rpc_seed(seed: u64) -> u64 {
    seed ^ 0x5250_4353_414d_504c
}
