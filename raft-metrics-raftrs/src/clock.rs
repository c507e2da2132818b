//! The wrapper's clock: at most one system clock read per turn of the ready loop, and times as
//! plain integers.
//!
//! A turn starts at `tick` and at `ready`. Everything the wrapper times inside a turn shares the
//! turn's reading, read lazily by the first thing that needs it; a turn with nothing to time
//! reads nothing. Where a duration ends, the caller takes a fresh reading, which becomes the
//! turn's. Readings are raw counter values of one process-wide [`quanta::Clock`] (the CPU's
//! time-stamp counter where it is invariant, else the monotonic clock), so a reading is one
//! instruction (taken inline where quanta takes the counter, [`read`]), a difference in seconds
//! an integer subtraction, a conversion and a multiplication ([`seconds`]), and readings of
//! different nodes compare. Unix timestamps (`*_timestamp_seconds`) are derived from a reading
//! and an anchor re-read from the wall clock every [`REANCHOR_TICKS`] ticks, so they cost no
//! second clock read; their resolution is the turn.
//!
//! Why: in an in-memory raft-rs loop a `std::time::Instant` read plus `Duration` arithmetic costs
//! about as much as everything else the wrapper does for a message (`benches/RESULTS.md`), and a
//! ready loop used to do several per turn.

use core::num::NonZeroU64;
#[cfg(target_arch = "x86_64")]
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Ticks between two reads of the wall clock, which keep derived Unix time within the drift of
/// the monotonic clock over that period (at raft-rs's usual 100 ms tick: about 100 s).
pub(crate) const REANCHOR_TICKS: u64 = 1024;

/// The process's clock, and the seconds one unit of its readings stands for.
struct Source {
    clock: quanta::Clock,
    /// quanta scales a difference of readings linearly (the TSC's ticks by a multiplication and
    /// a shift of 128-bit integers, the monotonic clock's nanoseconds not at all), so one
    /// factor, taken once from a long difference, turns any into seconds with a conversion and
    /// a multiplication: what a timed turn observes is seconds, and quanta's nanoseconds cost
    /// the scaling, its clock type's match and a division more on each.
    seconds_per_unit: f64,
}

/// The process's clock; the first use calibrates the TSC against the monotonic clock (quanta:
/// at most 200 ms, once).
fn source() -> &'static Source {
    static SOURCE: OnceLock<Source> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let clock = quanta::Clock::new();
        // 2^40 units (minutes of TSC ticks): the factor to about 12 significant digits.
        let span = 1u64 << 40;
        #[allow(clippy::cast_precision_loss)] // within 1 part in 2^53
        let seconds_per_unit = clock.delta_as_nanos(1, 1 + span) as f64 / span as f64 / 1e9;
        #[cfg(target_arch = "x86_64")]
        TSC.store(reads_the_counter(&clock), Ordering::Relaxed);
        Source { clock, seconds_per_unit }
    })
}

/// Whether [`read`] takes the time-stamp counter itself: set once [`source`]'s clock is known to
/// read it.
#[cfg(target_arch = "x86_64")]
static TSC: AtomicBool = AtomicBool::new(false);

/// A reading: a raw counter value, only meaningful relative to another reading.
///
/// Where quanta reads the time-stamp counter, this reads it too, inline: `quanta::Clock::raw`
/// is a call that matches on the clock's type behind the `OnceLock`'s test, about 15
/// instructions where the counter is 3, and a busy node reads several times per proposal.
#[inline]
pub(crate) fn read() -> u64 {
    #[cfg(target_arch = "x86_64")]
    if TSC.load(Ordering::Relaxed) {
        // SAFETY: `TSC` is set only where quanta reads the counter (`reads_the_counter`).
        return unsafe { core::arch::x86_64::_rdtsc() };
    }
    source().clock.raw()
}

/// Whether `clock` reads the time-stamp counter: quanta does where the CPU says the counter is
/// invariant and has `rdtscp` (`quanta::Clock::new`), and there, three times, a counter reading
/// falls between two of the clock's, close together. The monotonic clock's nanoseconds would have
/// to equal the counter's cycles to within the microsecond the check takes, three times while
/// both move at their own rates. The counter is read only where quanta reads it too (an
/// operating system can make it fault, `PR_SET_TSC`, which quanta's monotonic clock avoids).
#[cfg(target_arch = "x86_64")]
fn reads_the_counter(clock: &quanta::Clock) -> bool {
    let cpuid = raw_cpuid::CpuId::new();
    let invariant = cpuid.get_advanced_power_mgmt_info().is_some_and(|apm| apm.has_invariant_tsc());
    let rdtscp = cpuid.get_extended_processor_and_feature_identifiers().is_some_and(|epf| epf.has_rdtscp());
    if !invariant || !rdtscp {
        return false;
    }
    (0..3).all(|_| {
        let before = clock.raw();
        // SAFETY: the counter is invariant and quanta reads it (checked above and here).
        let counter = unsafe { core::arch::x86_64::_rdtsc() };
        let after = clock.raw();
        before <= counter && counter <= after && after - before < 1 << 20
    })
}

/// Nanoseconds between two readings (zero when `end` is not after `start`).
pub(crate) fn nanos(start: u64, end: u64) -> u64 {
    if end <= start {
        return 0;
    }
    source().clock.delta_as_nanos(start, end)
}

/// Seconds between two readings (zero when `end` is not after `start`), to within 1 part in
/// 10^11 of quanta's nanoseconds.
#[allow(clippy::cast_precision_loss)] // exact below 2^53 units, then within 1 part in 2^53
pub(crate) fn seconds(start: u64, end: u64) -> f64 {
    if end <= start {
        return 0.0;
    }
    (end - start) as f64 * source().seconds_per_unit
}

/// One node's clock: the turn's reading and the anchor for Unix time.
///
/// In this order (`repr(C)`), the turn's reading first: a new turn writes it, the anchor is
/// read only to derive Unix time. 24 bytes, so that the clock, the tick count and what a turn
/// reads of the samplers share a cache line (see the turn's layout, `node/turn.rs`).
///
/// The turn's Unix time is not kept: it is asked for once a tick at most (a follower's
/// `last_contact_timestamp`) and derived in a few instructions, where keeping it cost every turn
/// a store to forget it.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Clock {
    /// This turn's reading, `None` until something needs it (a reading of zero, which a
    /// counter running since boot never gives, would only be read again).
    turn: Option<NonZeroU64>,
    /// A reading and the Unix time at that moment.
    anchor: u64,
    anchor_unix: f64,
}

const _: () = assert!(core::mem::size_of::<Clock>() == 24, "the clock takes three words of a cache line");

impl Clock {
    pub(crate) fn new() -> Self {
        let (anchor, anchor_unix) = read_both();
        Self { turn: NonZeroU64::new(anchor), anchor, anchor_unix }
    }

    /// A new turn of the ready loop: the next [`now`](Self::now) reads the system clock.
    #[inline]
    pub(crate) fn new_turn(&mut self) {
        self.turn = None;
    }

    /// The node ticked from tick number `from` to `to`: a new turn, and a fresh anchor for Unix
    /// time when one of those ticks is a multiple of [`REANCHOR_TICKS`].
    #[inline]
    pub(crate) fn ticked(&mut self, from: u64, to: u64) {
        if to / REANCHOR_TICKS != from / REANCHOR_TICKS {
            self.reanchor();
        } else {
            self.new_turn();
        }
    }

    /// A fresh anchor, which is also the turn's reading.
    #[cold]
    #[inline(never)]
    fn reanchor(&mut self) {
        let (anchor, anchor_unix) = read_both();
        (self.anchor, self.anchor_unix) = (anchor, anchor_unix);
        self.turn = NonZeroU64::new(anchor);
    }

    /// The turn's reading: the first call in a turn reads the system clock.
    #[inline]
    pub(crate) fn now(&mut self) -> u64 {
        match self.turn {
            Some(turn) => turn.get(),
            None => self.read(),
        }
    }

    /// Reads the system clock (the end of a duration); the reading becomes the turn's.
    pub(crate) fn read(&mut self) -> u64 {
        let now = read();
        self.turn = NonZeroU64::new(now);
        now
    }

    /// Unix time of the turn's reading, in seconds.
    pub(crate) fn unix(&mut self) -> f64 {
        let now = self.now();
        self.unix_at(now)
    }

    /// Unix time of a reading, in seconds.
    pub(crate) fn unix_at(&self, at: u64) -> f64 {
        // A reading older than the anchor (taken before a re-anchoring) counts back from it.
        if at >= self.anchor {
            self.anchor_unix + seconds(self.anchor, at)
        } else {
            self.anchor_unix - seconds(at, self.anchor)
        }
    }
}

/// A reading and the wall clock, back to back.
fn read_both() -> (u64, f64) {
    let now = read();
    let unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    (now, unix)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn one_reading_per_turn_until_a_fresh_one() {
        let mut clock = Clock::new();
        clock.new_turn();
        let first = clock.now();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(clock.now(), first, "the turn's reading is reused");
        let end = clock.read();
        assert!(seconds(first, end) >= 0.002);
        assert_eq!(clock.now(), end, "a fresh reading becomes the turn's");
        clock.new_turn();
        assert!(clock.now() > end);
        assert_eq!(seconds(end, first), 0.0, "never negative");
    }

    #[test]
    fn unix_time_follows_the_wall_clock() {
        let mut clock = Clock::new();
        clock.new_turn();
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs_f64();
        assert!((clock.unix() - wall).abs() < 0.5, "{} vs {wall}", clock.unix());
        let earlier = clock.now();
        for tick in 1..=REANCHOR_TICKS {
            clock.ticked(tick - 1, tick);
        }
        // Re-anchored: a reading from before the anchor still maps to the time it was taken.
        let back = clock.unix_at(earlier);
        assert!((back - wall).abs() < 0.5, "{back} vs {wall}");
        assert!(clock.unix() >= back);
    }

    /// Seconds are quanta's nanoseconds, scaled by one factor, for short and long differences.
    #[test]
    fn seconds_are_quantas_nanoseconds() {
        let start = read();
        for span in [1, 7, 1_000, 123_456_789, 1 << 32, 1 << 45, 1 << 52] {
            #[allow(clippy::cast_precision_loss)]
            let nanos = nanos(start, start + span) as f64;
            let seconds = seconds(start, start + span);
            assert!((seconds * 1e9 - nanos).abs() <= 1e-10 * nanos + 1.0, "{span}: {seconds} s against {nanos} ns");
        }
        assert_eq!(seconds(start, start), 0.0);
    }

    /// A reading is quanta's, inline or not: between two of quanta's and in its units (within
    /// a few hundred units: the counter's reads are not ordered with one another).
    #[test]
    fn readings_are_quantas() {
        let clock = &source().clock;
        for _ in 0..100 {
            let (before, reading, after) = (clock.raw(), read(), clock.raw());
            assert!(before <= reading + 500 && reading <= after + 500, "{before} {reading} {after}");
        }
    }

    /// Ticks caught up with at once re-anchor when one of them would have.
    #[test]
    fn ticks_caught_up_at_once_reanchor_as_one_by_one() {
        let mut clock = Clock::new();
        let first = clock.anchor;
        std::thread::sleep(std::time::Duration::from_millis(2));
        clock.ticked(1, REANCHOR_TICKS - 1);
        assert_eq!(clock.anchor, first, "no multiple of REANCHOR_TICKS passed");
        assert_eq!(clock.turn, None, "a new turn");
        clock.ticked(REANCHOR_TICKS - 1, REANCHOR_TICKS + 30);
        assert!(clock.anchor > first, "re-anchored");
        assert_eq!(clock.turn, NonZeroU64::new(clock.anchor), "the anchor is the turn's reading");
    }
}
