//! Which turns of the ready loop are timed.
//!
//! Timing a turn costs clock reads, conversions and histogram observations, several times what
//! the rest of the turn's recording costs, and a busy group runs thousands of turns a second. So
//! the durations that happen every turn (append, apply, commit latency, commit batch size) are
//! measured on about one turn in `N` and observed with weight `N`: histogram counts and sums stay
//! unbiased, and at 1,000 turns a second 1-in-8 still keeps 125 samples a second. The latency of
//! the messages a turn sends has a second sampler, sparser by default (one turn in 64), since a
//! turn sends many messages.
//!
//! Which turns: a countdown drawn uniformly from `1..=2N-1` (mean `N`) by a per-node xorshift.
//! A fixed period could alias with the loop's own rhythm (a leader alternates append turns and
//! commit turns, so every 8th turn could always be the same kind); a jittered one cannot, and it
//! costs a decrement and a branch per turn. The seed is fixed per node, so a run is reproducible
//! (the instruction-count benchmark relies on it).
//!
//! The two samplers share that decrement ([`Samplers`]): a turn counts down to the next turn
//! either one samples, and only then do both catch up, since most turns are sampled by neither
//! and a busy node runs several turns per proposal.

use raft_metrics::Sampling;

/// One sampling rate: the countdown to its next sampled turn.
#[derive(Debug)]
pub(crate) struct TurnSampler {
    /// Observations' weight: 0 when timing is off.
    one_in: u32,
    /// Turns until the next sampled one (1: the next turn).
    countdown: u32,
    state: u64,
}

impl TurnSampler {
    /// `seed` distinguishes the nodes' sequences (any value; zero is fine).
    pub(crate) fn new(sampling: Sampling, seed: u64) -> Self {
        let one_in = match sampling {
            Sampling::Off => 0,
            Sampling::All => 1,
            Sampling::OneIn(n) => n.get(),
        };
        // splitmix64 of the seed: a well-mixed, never-zero xorshift state.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let mut sampler = Self { one_in, countdown: 0, state: (z ^ (z >> 31)) | 1 };
        sampler.countdown = sampler.draw();
        sampler
    }

    /// The configured rate.
    pub(crate) fn sampling(&self) -> Sampling {
        match self.one_in {
            0 => Sampling::Off,
            1 => Sampling::All,
            n => core::num::NonZeroU32::new(n).map_or(Sampling::Off, Sampling::OneIn),
        }
    }

    /// The weight of an observation made in a sampled turn.
    #[inline]
    pub(crate) fn weight(&self) -> u64 {
        u64::from(self.one_in)
    }

    /// `turns` turns passed, at most the countdown: whether the last of them is sampled.
    fn advance(&mut self, turns: u32) -> bool {
        self.countdown -= turns;
        if self.countdown > 0 {
            return false;
        }
        self.countdown = self.draw();
        self.one_in != 0
    }

    /// The next countdown: uniform in `1..=2N-1`; 1 when every turn is sampled, and as far as
    /// a `u32` goes when none is (the sampled turn it then reaches is not sampled).
    fn draw(&mut self) -> u32 {
        match self.one_in {
            0 => return u32::MAX,
            1 => return 1,
            _ => {}
        }
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        let span = 2 * u64::from(self.one_in) - 1;
        // `span` < 2^33, so the result fits in u32.
        u32::try_from(1 + x % span).unwrap_or(u32::MAX)
    }
}

/// The two per-node samplers, durations and RPC latency, behind one countdown.
#[derive(Debug)]
pub(crate) struct Samplers {
    durations: TurnSampler,
    rpc: TurnSampler,
    /// Turns until the next one either sampler samples (1: the next turn).
    skip: u32,
    /// The turns from the last such turn to the next: what both samplers advance by then.
    span: u32,
    /// The current turn: sampled for durations, for RPC latency.
    timed: (bool, bool),
}

impl Samplers {
    /// `seed` distinguishes the node's sequences; the two samplers draw from different ones.
    pub(crate) fn new(durations: Sampling, rpc: Sampling, seed: u64) -> Self {
        let mut samplers = Self {
            durations: TurnSampler::new(durations, seed),
            rpc: TurnSampler::new(rpc, rpc_seed(seed)),
            skip: 0,
            span: 0,
            timed: (false, false),
        };
        samplers.rearm();
        samplers
    }

    /// Replaces the durations' rate; the RPC sampler keeps its place.
    pub(crate) fn set_durations(&mut self, sampling: Sampling, seed: u64) {
        self.catch_up();
        self.durations = TurnSampler::new(sampling, seed);
        self.rearm();
    }

    /// Replaces the RPC latency's rate; the durations' sampler keeps its place.
    pub(crate) fn set_rpc(&mut self, sampling: Sampling, seed: u64) {
        self.catch_up();
        self.rpc = TurnSampler::new(sampling, rpc_seed(seed));
        self.rearm();
    }

    /// Takes the turns counted down since the last sampled turn off both countdowns (fewer
    /// than either: the nearer one samples when `skip` runs out).
    fn catch_up(&mut self) {
        let elapsed = self.span - self.skip;
        self.durations.countdown -= elapsed;
        self.rpc.countdown -= elapsed;
        self.span = self.skip;
    }

    /// The samplers' rates: durations, RPC latency.
    pub(crate) fn sampling(&self) -> (Sampling, Sampling) {
        (self.durations.sampling(), self.rpc.sampling())
    }

    /// A new turn: a decrement, unless either sampler samples it.
    #[inline]
    pub(crate) fn next_turn(&mut self) {
        if self.skip > 1 {
            self.skip -= 1;
            self.timed = (false, false);
        } else {
            self.sampled_turn();
        }
    }

    #[inline(never)]
    fn sampled_turn(&mut self) {
        let span = self.span;
        self.timed = (self.durations.advance(span), self.rpc.advance(span));
        self.rearm();
    }

    /// Counts down to the nearer of the two samplers' next turns.
    fn rearm(&mut self) {
        self.span = self.durations.countdown.min(self.rpc.countdown);
        self.skip = self.span;
    }

    /// Whether the current turn's durations are timed.
    #[inline]
    pub(crate) fn timed(&self) -> bool {
        self.timed.0
    }

    /// Whether the current turn's messages are timed.
    #[inline]
    pub(crate) fn rpc_timed(&self) -> bool {
        self.timed.1
    }

    /// The weight of a duration observed in a timed turn.
    #[inline]
    pub(crate) fn weight(&self) -> u64 {
        self.durations.weight()
    }

    /// The weight of an RPC latency observed in a turn whose messages are timed.
    #[inline]
    pub(crate) fn rpc_weight(&self) -> u64 {
        self.rpc.weight()
    }
}

/// The RPC sampler's seed: its own sequence, independent of the durations'.
fn rpc_seed(seed: u64) -> u64 {
    seed ^ 0x5250_4353_414d_504c
}

#[cfg(test)]
mod tests {
    use core::num::NonZeroU32;

    use super::*;

    fn one_in(n: u32) -> Sampling {
        Sampling::OneIn(NonZeroU32::new(n).expect("non-zero"))
    }

    /// The turns each sampler samples over `turns` turns.
    fn timed_turns(durations: Sampling, rpc: Sampling, turns: usize) -> (usize, usize) {
        let mut samplers = Samplers::new(durations, rpc, 7);
        let mut timed = (0, 0);
        for _ in 0..turns {
            samplers.next_turn();
            timed.0 += usize::from(samplers.timed());
            timed.1 += usize::from(samplers.rpc_timed());
        }
        timed
    }

    #[test]
    fn all_times_every_turn_and_off_none() {
        assert_eq!(timed_turns(Sampling::All, Sampling::Off, 1000), (1000, 0));
        assert_eq!(timed_turns(Sampling::Off, Sampling::All, 1000), (0, 1000));
        assert_eq!(timed_turns(Sampling::Off, Sampling::Off, 1000), (0, 0));
        assert_eq!(Samplers::new(Sampling::Off, Sampling::Off, 1).weight(), 0);
    }

    #[test]
    fn one_in_n_times_about_one_turn_in_n() {
        let (durations, rpc) = timed_turns(one_in(8), one_in(64), 800_000);
        // Mean gaps 8 and 64: 100 000 and 12 500 expected; the gaps' spread keeps the counts
        // within a percent.
        assert!((99_000..=101_000).contains(&durations), "{durations}");
        assert!((12_250..=12_750).contains(&rpc), "{rpc}");
        let samplers = Samplers::new(one_in(8), one_in(64), 1);
        assert_eq!((samplers.weight(), samplers.rpc_weight()), (8, 64));
        assert_eq!(samplers.sampling(), (one_in(8), one_in(64)));
    }

    /// Sharing the countdown changes no sampler's sequence: each samples the turns it would
    /// sample alone.
    #[test]
    fn each_sampler_keeps_its_own_sequence() {
        let mut both = Samplers::new(one_in(8), one_in(64), 5);
        let mut alone = Samplers::new(one_in(8), Sampling::Off, 5);
        let mut rpc_alone = Samplers::new(Sampling::Off, one_in(64), 5);
        for _ in 0..100_000 {
            both.next_turn();
            alone.next_turn();
            rpc_alone.next_turn();
            assert_eq!(both.timed(), alone.timed());
            assert_eq!(both.rpc_timed(), rpc_alone.rpc_timed());
        }
    }

    /// Changing one rate between sampled turns leaves the other sampler's turns where they were.
    #[test]
    fn a_new_rate_leaves_the_other_sampler_in_place() {
        let mut changed = Samplers::new(one_in(8), one_in(64), 11);
        let mut kept = Samplers::new(one_in(8), one_in(64), 11);
        for turn in 0..10_000 {
            if turn == 5 {
                changed.set_rpc(one_in(1000), 11);
            }
            changed.next_turn();
            kept.next_turn();
            assert_eq!(changed.timed(), kept.timed(), "turn {turn}");
        }
    }

    #[test]
    fn no_aliasing_with_a_periodic_loop() {
        // A loop alternating two kinds of turn: both kinds get about half the timed turns.
        let mut samplers = Samplers::new(one_in(8), one_in(8), 3);
        let mut by_kind = [[0u32; 2]; 2];
        for turn in 0..160_000 {
            samplers.next_turn();
            by_kind[0][turn % 2] += u32::from(samplers.timed());
            by_kind[1][turn % 2] += u32::from(samplers.rpc_timed());
        }
        assert!(by_kind.iter().flatten().all(|&k| (9_000..=11_000).contains(&k)), "{by_kind:?}");
    }
}
