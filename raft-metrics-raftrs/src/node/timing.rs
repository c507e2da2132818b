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

use raft_metrics::Sampling;

/// The per-node sampler of timed turns.
#[derive(Debug)]
pub(crate) struct TurnSampler {
    /// Observations' weight: 0 when timing is off.
    one_in: u32,
    countdown: u32,
    state: u64,
    timed: bool,
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
        let mut sampler = Self { one_in, countdown: 0, state: (z ^ (z >> 31)) | 1, timed: false };
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

    /// A new turn: decides whether it is timed.
    #[inline]
    pub(crate) fn next_turn(&mut self) -> bool {
        self.timed = if self.countdown > 1 {
            self.countdown -= 1;
            false
        } else {
            self.countdown = self.draw();
            self.one_in != 0
        };
        self.timed
    }

    /// Whether the current turn is timed.
    #[inline]
    pub(crate) fn timed(&self) -> bool {
        self.timed
    }

    /// The weight of an observation made in a timed turn.
    #[inline]
    pub(crate) fn weight(&self) -> u64 {
        u64::from(self.one_in)
    }

    /// The next countdown: uniform in `1..=2N-1`.
    fn draw(&mut self) -> u32 {
        if self.one_in <= 1 {
            return 1;
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

#[cfg(test)]
mod tests {
    use core::num::NonZeroU32;

    use super::*;

    fn timed_turns(sampling: Sampling, turns: usize) -> usize {
        let mut sampler = TurnSampler::new(sampling, 7);
        (0..turns).filter(|_| sampler.next_turn()).count()
    }

    #[test]
    fn all_times_every_turn_and_off_none() {
        assert_eq!(timed_turns(Sampling::All, 1000), 1000);
        assert_eq!(timed_turns(Sampling::Off, 1000), 0);
        assert_eq!(TurnSampler::new(Sampling::Off, 1).weight(), 0);
    }

    #[test]
    fn one_in_n_times_about_one_turn_in_n() {
        let n = NonZeroU32::new(8).expect("non-zero");
        let timed = timed_turns(Sampling::OneIn(n), 800_000);
        // Mean gap 8: 100 000 expected; the gaps' spread keeps the count within a few hundred.
        assert!((99_000..=101_000).contains(&timed), "{timed}");
        assert_eq!(TurnSampler::new(Sampling::OneIn(n), 1).weight(), 8);
    }

    #[test]
    fn no_aliasing_with_a_periodic_loop() {
        // A loop alternating two kinds of turn: both kinds get about half the timed turns.
        let mut sampler = TurnSampler::new(Sampling::OneIn(NonZeroU32::new(8).expect("non-zero")), 3);
        let mut by_kind = [0u32; 2];
        for turn in 0..160_000 {
            if sampler.next_turn() {
                by_kind[turn % 2] += 1;
            }
        }
        assert!(by_kind.iter().all(|&k| (9_000..=11_000).contains(&k)), "{by_kind:?}");
    }
}
