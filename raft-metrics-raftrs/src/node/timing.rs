//! Which turns of the ready loop are timed.
//!
//! Timing a turn costs clock reads, conversions and histogram observations, several times what
//! the rest of the turn's recording costs, and a busy group runs thousands of turns a second. So
//! the durations that happen every turn (append, apply, commit latency, commit batch size) are
//! measured on one turn in `N` on average, each turn with probability `1/N`, and observed with
//! weight `N`: histogram counts and sums stay unbiased. The latency of the messages a turn sends
//! has a second sampler, sparser by default (one turn in 64), since a turn sends many messages.
//!
//! Which turns: a countdown to the next sampled turn, drawn from the geometric distribution of
//! mean `N` by a per-node xorshift, which is what sampling each turn on its own with probability
//! `1/N` gives. A fixed period could alias with the loop's own rhythm (a leader alternates append
//! turns and commit turns, so every 8th turn could always be the same kind); independent turns
//! cannot, and the countdown costs a decrement and a branch per turn. The seed is fixed per
//! node, so a run is reproducible (the instruction-count benchmark relies on it).
//!
//! The durations' rate is paced by the tick: the configured `N` is the densest rate, and at each
//! tick the sampler takes the turns of the tick just ended and, if one in `N` of them is more
//! than its budget of timed turns per tick, samples the turns of the next tick sparser, so that
//! about the budget's worth are timed. A quiet group is timed at its configured rate; a busy one
//! spends about the same on timing per tick however many turns it runs, so the timing cost per
//! proposal falls as the load grows instead of staying a fixed share of every turn. Each turn is
//! still sampled with a known probability, the rate of its tick, and observed with that rate as
//! its weight, so the estimates stay unbiased for any subset of turns (the busy ticks' as the
//! quiet ones'). When the rate changes the countdown is drawn again: a geometric countdown
//! carries no memory of the turns already counted, so starting it over changes no turn's
//! probability (a uniform one, as this module used before, would). A duration observed after
//! its tick (commit latency, from the append that started it) keeps the weight of the turn that
//! started it ([`Stamp`](super::pending::Stamp)). The RPC sampler keeps its configured rate: the
//! transport reports a timed message's latency when it is delivered, perhaps after the tick, and
//! is handed the weight then; at one turn in 64 it costs a small part of the durations'
//! (`benches/notes/raft_loop.md`).
//!
//! The two samplers share that decrement ([`Samplers`]): a turn counts down to the next turn
//! either one samples, and only then do both catch up, since most turns are sampled by neither
//! and a busy node runs several turns per proposal. The turns of a tick are counted from the same
//! countdown, at sampled turns and at the tick: no work per turn.

use raft_metrics::Sampling;

/// The sparsest rate pacing chooses.
const SPARSEST: u32 = 1 << 30;

/// One sampling rate: the countdown to its next sampled turn.
///
/// In this order (`repr(C)`): what a turn and a tick use first, the draw's state last (see the
/// turn's layout, `node/turn.rs`).
#[derive(Debug)]
#[repr(C)]
pub(crate) struct TurnSampler {
    /// Turns until the next sampled one (1: the next turn).
    countdown: u32,
    /// The current rate, `base` or sparser when paced: each turn is sampled with probability
    /// `1 / one_in`, and observed with weight `one_in`.
    one_in: u32,
    /// The configured rate (0 when timing is off, 1 for every turn): the densest one.
    base: u32,
    state: u64,
    /// `1 / ln(1 - 1 / one_in)`, which turns a uniform draw into a geometric countdown.
    scale: f64,
}

impl TurnSampler {
    /// `seed` distinguishes the nodes' sequences (any value; zero is fine).
    pub(crate) fn new(sampling: Sampling, seed: u64) -> Self {
        let base = match sampling {
            Sampling::Off => 0,
            Sampling::All => 1,
            Sampling::OneIn(n) => n.get().min(SPARSEST),
        };
        // splitmix64 of the seed: a well-mixed, never-zero xorshift state.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let mut sampler = Self { countdown: 0, one_in: 0, base, state: (z ^ (z >> 31)) | 1, scale: 0.0 };
        sampler.set_rate(base);
        sampler
    }

    /// The configured rate.
    pub(crate) fn sampling(&self) -> Sampling {
        match self.base {
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

    /// A tick ended after `turns` turns: the next tick's turns are sampled so that about
    /// `budget` of as many are, or one in `base` if that is fewer. `Off` and `All` are not
    /// paced; a zero budget samples one in `base`.
    fn pace(&mut self, turns: u32, budget: u32) {
        if self.base > 1 {
            let one_in = if budget == 0 { self.base } else { turns.div_ceil(budget).clamp(self.base, SPARSEST) };
            if one_in != self.one_in {
                self.set_rate(one_in);
            }
        }
    }

    /// Samples from now on one turn in `one_in`, counting down afresh (see the module docs for
    /// why that is sound).
    fn set_rate(&mut self, one_in: u32) {
        self.one_in = one_in;
        self.scale = if one_in > 1 { 1.0 / (1.0 - 1.0 / f64::from(one_in)).ln() } else { 0.0 };
        self.countdown = self.draw();
    }

    /// The next countdown: geometric of mean `one_in`; 1 when every turn is sampled, and as far
    /// as a `u32` goes when none is (the sampled turn it then reaches is not sampled).
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
        // A uniform draw in (0, 1], u = m / 2^53 with 53 random bits, never zero; then
        // ln(u) / ln(1 - p) >= 0: the failures before the first success of a trial with
        // probability p; `as` saturates at u32::MAX, a countdown as long as a u32 goes.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let failures = (ln_unit((x >> 11) + 1) * self.scale) as u32;
        failures.saturating_add(1)
    }
}

/// `ln(m / 2^53)` for `m` in `1..=2^53`, to within a few units of `f64`'s last place.
///
/// By hand rather than `f64::ln`: glibc's logarithm took about 50 instructions a draw, and a
/// draw comes every few sampled turns. Here: `m`'s binary exponent, then its mantissa `f` in
/// `[1, 2)` against the point `c` of the step of [`LN_TABLE`] it falls in (built at compile
/// time): `ln f = ln c + 2 atanh(s)` with `s = (f - c) / (f + c)`, whose series needs three
/// terms, `|s| <= 2^-9` (the series on `[√½, √2)` around one point needed nine, about 20
/// instructions more a draw). `f - c` is exact, so `s` is exact to an ulp or so; the points above
/// `√2` carry `ln(c / 2)` and one octave more, so that near `u = 1` the result is the small
/// series alone, not two large terms cancelling (the last point is 2). Within 4e-15 of
/// `f64::ln`, itself within an ulp or so of the exact value. A countdown is `floor` of this
/// times the rate's scale, so the two differ only where that product lands within its error of
/// an integer: `same_draws_as_the_libm_logarithm` finds the same countdowns in 10^6 draws at
/// rates from one in 2 to one in 2^30.
#[inline]
fn ln_unit(m: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)] // 53 bits are exact in an f64
    let bits = (m as f64).to_bits();
    // m >= 1: a normal number, its exponent field is its binary exponent plus 1023.
    #[allow(clippy::cast_possible_wrap)]
    let exponent = (bits >> 52) as i64 - 1023 - 53;
    let f = f64::from_bits(bits & ((1 << 52) - 1) | 1023 << 52);
    #[allow(clippy::cast_possible_truncation)] // LN_STEPS is a power of two below 2^52
    let point = &LN_TABLE[(bits >> (52 - LN_STEPS.trailing_zeros())) as usize & (LN_STEPS - 1)];
    let s = (f - point.at) / (f + point.at);
    let s2 = s * s;
    // 2 atanh(s) = 2s (1 + s²/3 + s⁴/5 + …): the next term, s⁶/7, is under 2^-56.
    let atanh2 = s * (2.0 + s2 * (2.0 / 3.0 + s2 * (2.0 / 5.0)));
    #[allow(clippy::cast_precision_loss)] // |exponent| <= 53
    let octaves = exponent as f64 + point.octave;
    octaves * core::f64::consts::LN_2 + point.ln + atanh2
}

/// Points of [`ln_unit`]'s table: `[1, 2)` in this many equal steps.
const LN_STEPS: usize = 128;

/// A point `c` of [`ln_unit`]'s table and its logarithm, split as `octave · ln 2 + ln`.
struct LnPoint {
    at: f64,
    ln: f64,
    octave: f64,
}

/// Step `i`'s middle, `1 + (i + ½) / LN_STEPS`, and for the last step 2 (so that `u` near 1
/// reads `ln(f / 2)` from its series alone). The points from `√2` up carry `ln(c / 2)` and an
/// octave.
static LN_TABLE: [LnPoint; LN_STEPS] = {
    let mut table = [const { LnPoint { at: 0.0, ln: 0.0, octave: 0.0 } }; LN_STEPS];
    let mut i = 0;
    while i < LN_STEPS {
        #[allow(clippy::cast_precision_loss)] // i < 128
        let at = if i == LN_STEPS - 1 { 2.0 } else { 1.0 + (i as f64 + 0.5) / LN_STEPS as f64 };
        table[i] = if at < core::f64::consts::SQRT_2 {
            LnPoint { at, ln: ln_series(at), octave: 0.0 }
        } else {
            LnPoint { at, ln: ln_series(at * 0.5), octave: 1.0 }
        };
        i += 1;
    }
    table
};

/// `ln x` for `x` in `[½, 2]` at compile time, to an ulp or so: `2 atanh(s)` with
/// `s = (x - 1) / (x + 1)`, `|s| <= 1/3`, summed until the terms vanish.
const fn ln_series(x: f64) -> f64 {
    let s = (x - 1.0) / (x + 1.0);
    let s2 = s * s;
    let (mut power, mut sum, mut k) = (s, 0.0, 0);
    while k < 40 {
        sum += power / (2 * k + 1) as f64;
        power *= s2;
        k += 1;
    }
    2.0 * sum
}

/// The two per-node samplers, durations and RPC latency, behind one countdown.
///
/// In this order (`repr(C)`): a turn that neither sampler samples, and a quiet tick, read and
/// write only the fields before the samplers, 19 bytes that share a cache line with the turn's
/// clock (see the turn's layout, `node/turn.rs`); the samplers' countdowns are taken down at
/// sampled turns and when a rate changes. At a node with thousands of groups each group's turn
/// finds its state cold, and a line costs more than the instructions.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Samplers {
    /// Turns until the next one either sampler samples, or until the one after a timed turn,
    /// which clears its flags (1: the next turn).
    skip: u32,
    /// The turns from the last sampled turn (or change of rate) to the next: what both
    /// samplers' countdowns go down by then.
    span: u32,
    /// With the turns since the last sampled turn (`span - skip`), the turns of this tick: the
    /// tick's turns up to the last sampled turn, less those counted down since it before the
    /// tick began (a quiet tick notes them here rather than take them off the countdowns).
    /// Wrapping: a quiet tick leaves it below zero; a tick of 2^32 turns would be misjudged
    /// once, and only its pacing (each turn's weight is its rate, whatever the rate).
    ticked: u32,
    /// The durations' timed turns per tick when the load would time more (0: no pacing).
    budget: u32,
    /// The current turn: sampled for durations, for RPC latency.
    timed: (bool, bool),
    /// The durations' sampler runs at a paced rate, not its configured one (a tick without
    /// turns puts it back): the sampler's own test, kept here so that a quiet tick reads no
    /// sampler.
    paced: bool,
    durations: TurnSampler,
    rpc: TurnSampler,
}

impl Samplers {
    /// The bytes a turn and a quiet tick use, from the start: everything before the samplers.
    pub(crate) const TURN_BYTES: usize = core::mem::offset_of!(Self, durations);

    /// `seed` distinguishes the node's sequences; the two samplers draw from different ones.
    pub(crate) fn new(durations: Sampling, rpc: Sampling, budget: u32, seed: u64) -> Self {
        let mut samplers = Self {
            durations: TurnSampler::new(durations, seed),
            rpc: TurnSampler::new(rpc, rpc_seed(seed)),
            budget,
            skip: 0,
            span: 0,
            ticked: 0,
            timed: (false, false),
            paced: false,
        };
        samplers.rearm();
        samplers
    }

    /// Replaces the durations' rate; the RPC sampler keeps its place.
    pub(crate) fn set_durations(&mut self, sampling: Sampling, seed: u64) {
        self.catch_up();
        self.durations = TurnSampler::new(sampling, seed);
        self.paced = false;
        self.rearm();
    }

    /// Replaces the RPC latency's rate; the durations' sampler keeps its place.
    pub(crate) fn set_rpc(&mut self, sampling: Sampling, seed: u64) {
        self.catch_up();
        self.rpc = TurnSampler::new(sampling, rpc_seed(seed));
        self.rearm();
    }

    /// Replaces the durations' budget of timed turns per tick, from the next tick on.
    pub(crate) fn set_budget(&mut self, budget: u32) {
        self.budget = budget;
    }

    /// The durations' budget of timed turns per tick (0: not paced).
    pub(crate) fn budget(&self) -> u32 {
        self.budget
    }

    /// Takes the turns counted down since the last sampled turn off both countdowns (fewer
    /// than either: the nearer one samples when `skip` runs out), before a rate changes.
    fn catch_up(&mut self) {
        let elapsed = self.span - self.skip;
        self.durations.countdown -= elapsed;
        self.rpc.countdown -= elapsed;
        self.ticked = self.ticked.wrapping_add(elapsed);
        self.span = self.skip;
    }

    /// The turns of this tick so far.
    #[inline]
    fn tick_turns(&self) -> u32 {
        self.ticked.wrapping_add(self.span - self.skip)
    }

    /// The samplers' rates: durations, RPC latency.
    pub(crate) fn sampling(&self) -> (Sampling, Sampling) {
        (self.durations.sampling(), self.rpc.sampling())
    }

    /// A new turn: a decrement, unless either sampler samples it or the last turn was timed
    /// (whose flags this one clears).
    #[inline]
    pub(crate) fn next_turn(&mut self) {
        self.skip -= 1;
        if self.skip == 0 {
            self.sampled_turn();
        }
    }

    /// The turn `skip` counted down to: the samplers catch up with the `span` turns since the
    /// last such turn and say whether they sample this one. The turn after a timed one comes here
    /// too ([`rearm`](Self::rearm)), usually to sample nothing: so the other turns leave the
    /// flags alone, and cost a decrement and a branch.
    #[inline(never)]
    fn sampled_turn(&mut self) {
        let span = self.span;
        let (durations, rpc) = (self.durations.countdown - span, self.rpc.countdown - span);
        if durations == 0 || rpc == 0 {
            return self.countdown_ended();
        }
        // The turn after a timed one, which only clears its flags (about half of the turns that
        // come here), ends no countdown: taken down here without a call, so that this path
        // saves no registers (`one_per_turn`: 788.5 → 781.2 instructions per proposal).
        self.ticked = self.ticked.wrapping_add(span);
        (self.durations.countdown, self.rpc.countdown) = (durations, rpc);
        self.timed = (false, false);
        self.rearm();
    }

    /// [`sampled_turn`](Self::sampled_turn) where a countdown ends: its sampler draws the next.
    #[inline(never)]
    fn countdown_ended(&mut self) {
        let span = self.span;
        self.ticked = self.ticked.wrapping_add(span);
        self.timed = (self.durations.advance(span), self.rpc.advance(span));
        self.rearm();
    }

    /// A tick: the turns since the last one pace the durations' sampler.
    #[inline]
    pub(crate) fn tick(&mut self) {
        let turns = self.tick_turns();
        // A quiet tick (at most the budget's turns: every idle group's) keeps the configured
        // rate, without the pacing's division, and leaves the countdowns as they are: the next
        // tick's turns start after the `span - skip` counted down so far.
        if turns <= self.budget && !self.paced {
            self.ticked = 0u32.wrapping_sub(self.span - self.skip);
            return;
        }
        self.repace();
    }

    /// [`tick`](Self::tick) of a busy group, or the first quiet one after it: out of line, so
    /// that an idle group's catch-up saves no registers for it.
    #[cold]
    #[inline(never)]
    fn repace(&mut self) {
        self.catch_up();
        let turns = core::mem::take(&mut self.ticked);
        let one_in = self.durations.one_in;
        self.durations.pace(turns, self.budget);
        if self.durations.one_in != one_in {
            self.rearm();
        }
        self.paced = self.durations.one_in != self.durations.base;
    }

    /// Whether the durations' sampler runs at a paced rate, not its configured one (a tick
    /// without turns would put it back).
    #[inline]
    pub(crate) fn paced(&self) -> bool {
        self.paced
    }

    /// Counts down to the nearer of the two samplers' next turns, or to the next turn when the
    /// current one is timed: that turn clears the flags ([`sampled_turn`](Self::sampled_turn)
    /// with a span of one, which samples it only if a countdown ends there).
    fn rearm(&mut self) {
        self.span = if self.timed == (false, false) { self.durations.countdown.min(self.rpc.countdown) } else { 1 };
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

    /// [`the_sampled_sequence_is_pinned`]'s fold.
    const PINNED: u64 = 0x1ed6_75e9_8e8e_cc2d;

    fn one_in(n: u32) -> Sampling {
        Sampling::OneIn(NonZeroU32::new(n).expect("non-zero"))
    }

    /// The turns each sampler samples over `turns` turns.
    fn timed_turns(durations: Sampling, rpc: Sampling, turns: usize) -> (usize, usize) {
        let mut samplers = Samplers::new(durations, rpc, 0, 7);
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
        assert_eq!(Samplers::new(Sampling::Off, Sampling::Off, 0, 1).weight(), 0);
    }

    #[test]
    fn one_in_n_times_about_one_turn_in_n() {
        let (durations, rpc) = timed_turns(one_in(8), one_in(64), 800_000);
        // 100 000 and 12 500 expected, binomial: standard deviations 296 and 111.
        assert!((99_000..=101_000).contains(&durations), "{durations}");
        assert!((12_050..=12_950).contains(&rpc), "{rpc}");
        let samplers = Samplers::new(one_in(8), one_in(64), 0, 1);
        assert_eq!((samplers.weight(), samplers.rpc_weight()), (8, 64));
        assert_eq!(samplers.sampling(), (one_in(8), one_in(64)));
    }

    /// Sharing the countdown changes no sampler's sequence: each samples the turns it would
    /// sample alone.
    #[test]
    fn each_sampler_keeps_its_own_sequence() {
        let mut both = Samplers::new(one_in(8), one_in(64), 0, 5);
        let mut alone = Samplers::new(one_in(8), Sampling::Off, 0, 5);
        let mut rpc_alone = Samplers::new(Sampling::Off, one_in(64), 0, 5);
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
        let mut changed = Samplers::new(one_in(8), one_in(64), 0, 11);
        let mut kept = Samplers::new(one_in(8), one_in(64), 0, 11);
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
        let mut samplers = Samplers::new(one_in(8), one_in(8), 0, 3);
        let mut by_kind = [[0u32; 2]; 2];
        for turn in 0..160_000 {
            samplers.next_turn();
            by_kind[0][turn % 2] += u32::from(samplers.timed());
            by_kind[1][turn % 2] += u32::from(samplers.rpc_timed());
        }
        assert!(by_kind.iter().flatten().all(|&k| (9_000..=11_000).contains(&k)), "{by_kind:?}");
    }

    /// Runs `ticks` ticks of `turns(tick)` turns each: the timed turns and the sum of their
    /// weights, per tick.
    fn paced(samplers: &mut Samplers, ticks: usize, turns: impl Fn(usize) -> u32) -> Vec<(u32, u32, u64)> {
        (0..ticks)
            .map(|tick| {
                let (mut timed, mut weights) = (0u32, 0u64);
                for _ in 0..turns(tick) {
                    samplers.next_turn();
                    if samplers.timed() {
                        timed += 1;
                        weights += samplers.weight();
                    }
                }
                samplers.tick();
                (turns(tick), timed, weights)
            })
            .collect()
    }

    /// A busy group times about its budget of turns per tick, a quiet one one turn in `N`.
    #[test]
    fn a_busy_group_is_paced_to_its_budget() {
        let mut samplers = Samplers::new(one_in(8), one_in(64), 8, 13);
        let busy = paced(&mut samplers, 500, |_| 2_000);
        // The first tick runs at the configured rate (250 timed, standard deviation 15), the
        // rest at one in 250 (3 992, deviation 63).
        assert!((200..=300).contains(&busy[0].1), "{:?}", busy[0]);
        let timed: u32 = busy[1..].iter().map(|&(_, timed, _)| timed).sum();
        assert!((3_700..=4_300).contains(&timed), "{timed} timed turns in 499 ticks of 2 000");
        assert!(busy[1..].iter().all(|&(_, timed, weights)| weights == 250 * u64::from(timed)));
        let quiet = paced(&mut samplers, 500, |_| 40);
        // One in 8 of 40 turns is 5 a tick, under the budget: the configured rate from the first
        // tick after the busy ones (2 495, deviation 46).
        let timed: u32 = quiet[1..].iter().map(|&(_, timed, _)| timed).sum();
        assert!((2_300..=2_700).contains(&timed), "{timed} timed turns in 499 ticks of 40");
        assert!(quiet[1..].iter().all(|&(_, timed, weights)| weights == 8 * u64::from(timed)));
    }

    /// Whatever the load does, the weights of the timed turns add up to the turns run: the
    /// histograms' counts stay unbiased estimates.
    #[test]
    fn weights_add_up_to_the_turns_under_a_changing_load() {
        let loads = [5_000, 20, 20, 300, 5_000, 1, 60, 2_000, 7, 900];
        let mut samplers = Samplers::new(one_in(8), one_in(64), 8, 17);
        let ticks = paced(&mut samplers, 20_000, |tick| loads[tick % loads.len()]);
        let turns: u64 = ticks.iter().map(|&(turns, _, _)| u64::from(turns)).sum();
        let weights: u64 = ticks.iter().map(|&(_, _, weights)| weights).sum();
        let timed: u32 = ticks.iter().map(|&(_, timed, _)| timed).sum();
        // 26.6 M turns, 1.17 M timed expected: the sum's standard deviation is 0.15 %.
        assert!(weights.abs_diff(turns) * 100 < turns, "weights {weights} for {turns} turns");
        assert!(timed < 1_250_000, "{timed} timed turns: paced (3.3 M at one in 8)");
    }

    /// Turns sampled at a tick's rate are observed with that rate: the busy ticks' weights
    /// stand for the busy ticks' turns and the quiet ones' for theirs, although each tick's rate
    /// comes from the tick before. (Keeping the countdown drawn at the old rate across the
    /// change leaves the busy ticks' weights about a tenth short here.)
    #[test]
    fn each_ticks_weights_stand_for_its_own_turns() {
        let mut samplers = Samplers::new(one_in(8), Sampling::Off, 8, 23);
        // Busy ticks at one in 25 (after a quiet one), quiet ones at one in 125.
        let ticks = paced(&mut samplers, 20_000, |tick| if tick % 2 == 0 { 1_000 } else { 200 });
        for (kind, turns, within) in [("busy", 1_000, 100), ("quiet", 200, 33)] {
            let (sum, weights) = ticks[1..]
                .iter()
                .filter(|&&(t, _, _)| t == turns)
                .fold((0, 0), |(sum, w), &(t, _, weights)| (sum + u64::from(t), w + weights));
            // Standard deviations 0.16 % and 0.8 %.
            assert!(weights.abs_diff(sum) * within < sum, "{kind}: weights {weights} for {sum} turns");
        }
    }

    /// The hand-written logarithm gives the countdowns `f64::ln` gives.
    #[test]
    fn same_draws_as_the_libm_logarithm() {
        // Every countdown the two logarithms give for 10^6 uniform draws, at the rates the
        // wrapper uses and the sparsest, and the logarithm itself at the ends and at the
        // reduction's edge (√2 · 2^52 and its neighbour).
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        let scales: Vec<f64> = [2.0, 8.0, 25.0, 64.0, 1000.0, f64::from(SPARSEST)]
            .iter()
            .map(|n: &f64| 1.0 / (1.0 - 1.0 / n).ln())
            .collect();
        for _ in 0..1_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let m = (x >> 11) + 1;
            #[allow(clippy::cast_precision_loss)]
            let exact = (m as f64 * (1.0 / (1u64 << 53) as f64)).ln();
            let ours = ln_unit(m);
            assert!((ours - exact).abs() <= 4e-15 * exact.abs() + 1e-16, "m = {m}: {ours} against {exact}");
            for scale in &scales {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let (a, b) = ((exact * scale) as u32, (ours * scale) as u32);
                assert_eq!(a, b, "m = {m}, scale {scale}");
            }
        }
        let edges = [1, 2, 3, 1 << 52, (1 << 53) - 1, 1 << 53, 6_369_051_672_525_773, 6_369_051_672_525_772];
        for m in edges {
            #[allow(clippy::cast_precision_loss)]
            let exact = (m as f64 / (1u64 << 53) as f64).ln();
            assert!((ln_unit(m) - exact).abs() <= 4e-15 * exact.abs() + 1e-16, "m = {m}");
        }
        assert_eq!(ln_unit(1 << 53), 0.0);
    }

    /// Which turns are sampled, and with what weights, over a load that changes every tick
    /// (ticks without turns, idle, quiet, busy and very busy ones) and new rates and budgets on
    /// the way, for one seed: folded into one number, pinned when the countdowns were taken off
    /// at every tick. How the countdowns are kept between ticks is bookkeeping: it must not move
    /// a sampled turn or a weight.
    #[test]
    fn the_sampled_sequence_is_pinned() {
        let mut samplers = Samplers::new(one_in(8), one_in(64), 8, 31);
        let (mut x, mut hash, mut turn) = (0x2545_F491_4F6C_DD1D_u64, 0xCBF2_9CE4_8422_2325_u64, 0u64);
        let mut mix = |value: u64| hash = (hash ^ value).wrapping_mul(0x100_0000_01B3);
        for tick in 0..20_000 {
            match tick {
                5_000 => samplers.set_budget(4),
                10_000 => samplers.set_rpc(one_in(16), 31),
                15_000 => samplers.set_durations(one_in(4), 31),
                _ => {}
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let turns = match x % 8 {
                0 => 0,
                1 | 2 => x >> 8 & 3,
                3 | 4 => x >> 8 & 63,
                5 | 6 => 100 + (x >> 8 & 1_023),
                _ => 2_000 + (x >> 8 & 4_095),
            };
            for _ in 0..turns {
                turn += 1;
                samplers.next_turn();
                if samplers.timed() {
                    mix(turn);
                    mix(samplers.weight());
                }
                if samplers.rpc_timed() {
                    mix(!turn);
                    mix(samplers.rpc_weight());
                }
            }
            samplers.tick();
        }
        assert_eq!(hash, PINNED, "{hash:#x}");
    }

    /// `All` times every turn however busy the group; a zero budget leaves `N` as it is.
    #[test]
    fn all_and_a_zero_budget_are_not_paced() {
        let mut all = Samplers::new(Sampling::All, Sampling::Off, 8, 19);
        let ticks = paced(&mut all, 10, |_| 1_000);
        assert!(ticks.iter().all(|&(turns, timed, weights)| timed == turns && weights == u64::from(turns)));
        let mut unpaced = Samplers::new(one_in(8), Sampling::Off, 0, 19);
        let timed: u32 = paced(&mut unpaced, 100, |_| 1_000).iter().map(|&(_, timed, _)| timed).sum();
        assert!((12_000..=13_000).contains(&timed), "{timed}");
    }

    /// A budget set to zero while a group is paced takes it back to its configured rate at the
    /// next tick; a budget set again paces from the turns of the tick it was set in.
    #[test]
    fn a_new_budget_applies_from_the_next_tick() {
        let mut samplers = Samplers::new(one_in(8), Sampling::Off, 8, 29);
        paced(&mut samplers, 3, |_| 2_000);
        assert_eq!(samplers.weight(), 250);
        samplers.set_budget(0);
        let ticks = paced(&mut samplers, 100, |_| 2_000);
        assert!(ticks[1..].iter().all(|&(_, timed, weights)| weights == 8 * u64::from(timed)));
        samplers.set_budget(4);
        let ticks = paced(&mut samplers, 3, |_| 2_000);
        assert!(ticks[1..].iter().all(|&(_, timed, weights)| weights == 500 * u64::from(timed)), "{ticks:?}");
    }
}
