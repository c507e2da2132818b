//! Time for the wrappers and the watcher: the sampler that decides which calls are timed, the
//! clock that times them, and a process-wide anchor that turns an [`Instant`] into Unix seconds
//! without a second clock read.
//!
//! Why sampled: a storage or network call that is not timed reads no clock at all, so at the
//! default one call in 8 the wrappers read the clock about once per 8 appends, applies or RPCs
//! (plus the rare events: elections, snapshots, failures).
//!
//! Why not `Instant` for the timed calls: a reading is the raw counter of one process-wide
//! [`quanta::Clock`] (the CPU's time-stamp counter where it is invariant, else the monotonic
//! clock), so a reading is one instruction and a duration an integer subtraction and a scaling,
//! where `Instant::now` and `elapsed` cost about 120 instructions per timed call in
//! `benches/openraft_loop_instructions` (the raft-rs adapter's clock does the same). The watcher
//! and the rare events keep `Instant`: they run per refresh, not per call.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use raft_metrics::Sampling;

/// The instant the process first asked for time, and the Unix time then.
fn anchor() -> &'static (Instant, f64) {
    static ANCHOR: OnceLock<(Instant, f64)> = OnceLock::new();
    ANCHOR.get_or_init(|| {
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        (Instant::now(), unix)
    })
}

/// The process's clock; the first use calibrates the TSC against the monotonic clock (quanta:
/// at most 200 ms, once).
fn source() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// A reading: a raw counter value, only meaningful relative to another reading.
#[inline]
pub(crate) fn read() -> u64 {
    source().raw()
}

/// Seconds between the readings `start` and `end` (zero when `end` is not after `start`).
#[allow(clippy::cast_precision_loss)] // exact below 2^53 ns (104 days), then within 1 part in 2^53
pub(crate) fn seconds(start: u64, end: u64) -> f64 {
    if end <= start {
        return 0.0;
    }
    source().delta_as_nanos(start, end) as f64 / 1e9
}

/// Seconds from the reading `start` until now.
pub(crate) fn seconds_since(start: u64) -> f64 {
    seconds(start, read())
}

/// Unix seconds of `at` (derived from the anchor: the monotonic clock's drift since the process
/// started is far below a scrape interval).
pub(crate) fn unix(at: Instant) -> f64 {
    let (base, base_unix) = *anchor();
    base_unix + at.saturating_duration_since(base).as_secs_f64()
}

/// Decides which calls of one wrapper are timed.
///
/// With `Sampling::OneIn(n)` the gap between two timed calls is drawn uniformly from `1..2n`
/// (mean `n`) by a per-wrapper xorshift, so the timed calls cannot lock onto a rhythm of the
/// caller (say, every other append being a heartbeat's empty one). Sampled durations are
/// observed as they are, with weight 1: a histogram's `_count` then counts timed calls, about
/// one in `n`, and its quantiles estimate the population's.
#[derive(Debug, Clone)]
pub(crate) struct Sampler {
    every: u32,
    countdown: u32,
    state: u32,
}

impl Sampler {
    pub(crate) fn new(sampling: Sampling, seed: u32) -> Self {
        let every = match sampling {
            Sampling::Off => 0,
            Sampling::All => 1,
            Sampling::OneIn(n) => n.get(),
        };
        // xorshift32 must not start at 0.
        let mut s = Self { every, countdown: 0, state: seed | 1 };
        s.countdown = s.draw();
        s
    }

    fn draw(&mut self) -> u32 {
        match self.every {
            // Off: a countdown as long as a `u32` goes, whose end is not sampled either.
            0 => return u32::MAX,
            1 => return 1,
            _ => {}
        }
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        1 + self.state % (2 * self.every - 1)
    }

    /// Whether this call is timed; when it is, the call's start (a [`read`]ing).
    #[inline]
    pub(crate) fn start(&mut self) -> Option<u64> {
        self.sampled().then(read)
    }

    /// Whether this call is sampled, for an observation that needs no clock (a size).
    #[inline]
    pub(crate) fn sampled(&mut self) -> bool {
        // `Off` counts down too (from `u32::MAX`): no test of the rate on every call.
        self.countdown -= 1;
        if self.countdown > 0 {
            return false;
        }
        self.countdown = self.draw();
        self.every != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn timed(sampling: Sampling, calls: u32) -> u32 {
        let mut s = Sampler::new(sampling, 7);
        (0..calls).map(|_| u32::from(s.start().is_some())).sum()
    }

    #[test]
    fn all_times_every_call_and_off_none() {
        assert_eq!(timed(Sampling::All, 100), 100);
        assert_eq!(timed(Sampling::Off, 100), 0);
    }

    /// `Off` counts down like any rate; the end of its countdown is not sampled either.
    #[test]
    fn off_never_samples_at_the_end_of_its_countdown() {
        let mut s = Sampler::new(Sampling::Off, 7);
        assert_eq!(s.countdown, u32::MAX);
        s.countdown = 2;
        assert!(!s.sampled() && !s.sampled(), "the countdown's last call is not sampled");
        assert_eq!(s.countdown, u32::MAX, "and it starts over");
        assert!(!s.sampled());
    }

    #[test]
    fn one_in_n_times_about_one_call_in_n() {
        let n = timed(Sampling::OneIn(NonZeroU32::new(8).unwrap_or(NonZeroU32::MIN)), 80_000);
        assert!((9_000..11_000).contains(&n), "{n} timed calls of 80 000");
    }

    #[test]
    fn readings_measure_elapsed_time() {
        let start = read();
        let before = Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let measured = seconds_since(start);
        let truth = before.elapsed().as_secs_f64();
        assert!(measured >= 0.015 && (measured - truth).abs() < 0.01, "{measured} s for {truth} s");
        assert!(seconds_since(u64::MAX) == 0.0, "a start after now reads zero");
    }

    #[test]
    fn unix_time_follows_the_wall_clock() {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        assert!((unix(Instant::now()) - wall).abs() < 1.0);
    }
}
