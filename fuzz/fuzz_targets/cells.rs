//! Arbitrary sequences of operations on the cells (`Counter`, `Gauge`, `FloatGauge`,
//! `Histogram<N>`), through `&self` and through single-writer `Local` views, checked after every
//! operation against a reference model:
//!
//! * counters equal the wrapping sum of their adds; gauges follow set/add/`set_u64` semantics;
//!   float gauges equal the same float arithmetic (NaN-aware);
//! * a histogram's `count()` is the (wrapping) sum of the observation weights, its buckets sum to
//!   `count()`, and `bucket_counts()` equals a reference `le` computation: NaN and `+inf` in
//!   `+Inf`, `-inf` in the first bucket;
//! * its `sum()` equals the exact sum of the observations within the documented resolution (one
//!   sum unit per observation, half a unit each for rounding) while every observation is finite
//!   and in range; NaN and infinities add nothing.

#![no_main]

use std::sync::Arc;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use raft_metrics::advanced::Metric;
use raft_metrics::{Buckets, Counter, FloatGauge, Gauge, Histogram};

/// A float with the special values made likely.
#[derive(Debug, Arbitrary, Clone, Copy)]
enum F {
    Raw(f64),
    Nan,
    Inf,
    NegInf,
    Zero(bool),
    /// The subnormal with these low mantissa bits, maybe negated.
    Subnormal(u32, bool),
    Max(bool),
    /// Bound `index % N` of the histogram, moved by `ulps` units in the last place: values on and
    /// next to an `le` boundary.
    Bound(u8, i8),
    /// A small decimal, `n / 1000`.
    Milli(i32),
}

impl F {
    fn value(self, bounds: &[f64]) -> f64 {
        let neg = |v: f64, n: bool| if n { -v } else { v };
        match self {
            Self::Raw(v) => v,
            Self::Nan => f64::NAN,
            Self::Inf => f64::INFINITY,
            Self::NegInf => f64::NEG_INFINITY,
            Self::Zero(n) => neg(0.0, n),
            Self::Subnormal(bits, n) => neg(f64::from_bits(u64::from(bits.max(1))), n),
            Self::Max(n) => neg(f64::MAX, n),
            Self::Bound(index, ulps) => {
                let bound = bounds[usize::from(index) % bounds.len()];
                let mut v = bound;
                for _ in 0..ulps.unsigned_abs() {
                    v = if ulps > 0 { v.next_up() } else { v.next_down() };
                }
                v
            }
            Self::Milli(n) => f64::from(n) / 1000.0,
        }
    }
}

/// A weight for `observe_n`, small ones likely; the packed path takes weights up to 2^16.
#[derive(Debug, Arbitrary, Clone, Copy)]
enum W {
    Small(u8),
    Packed(u16),
    AroundPackedLimit(i8),
    Any(u64),
}

impl W {
    fn value(self) -> u64 {
        match self {
            Self::Small(n) => u64::from(n),
            Self::Packed(n) => u64::from(n),
            Self::AroundPackedLimit(d) => (1u64 << 16).wrapping_add_signed(i64::from(d)),
            Self::Any(n) => n,
        }
    }
}

#[derive(Debug, Arbitrary, Clone, Copy)]
enum Which {
    One,
    Four,
    Forty,
}

#[derive(Debug, Arbitrary)]
enum Op {
    CounterInc {
        local: bool,
    },
    CounterAdd {
        n: u64,
        local: bool,
    },
    CounterReset,
    GaugeSet {
        v: i64,
        local: bool,
    },
    GaugeSetU64 {
        v: u64,
        local: bool,
    },
    GaugeAdd {
        v: i64,
        local: bool,
    },
    GaugeInc {
        local: bool,
    },
    GaugeDec {
        local: bool,
    },
    GaugeReset,
    FloatSet {
        v: F,
        local: bool,
    },
    FloatAdd {
        v: F,
        local: bool,
    },
    FloatReset,
    Observe {
        which: Which,
        v: F,
        local: bool,
    },
    ObserveN {
        which: Which,
        v: F,
        n: W,
        local: bool,
    },
    ObserveMs {
        which: Which,
        v: F,
        local: bool,
    },
    /// The same value many times: walks the packed words to their drain thresholds.
    ObserveMany {
        which: Which,
        v: F,
        times: u16,
        n: W,
        local: bool,
    },
    HistogramReset(Which),
}

/// Bucket bounds for one histogram.
#[derive(Debug, Arbitrary)]
enum BoundsSpec<const N: usize> {
    /// Sorted before use; refused ones fall back to the defaults.
    Given([f64; N]),
    Linear(f64, f64),
    Exponential(f64, f64),
}

impl<const N: usize> BoundsSpec<N> {
    fn buckets(&self, resolution: Option<f64>) -> Arc<Buckets> {
        let built = match self {
            Self::Given(bounds) => {
                let mut bounds = *bounds;
                bounds.sort_by(f64::total_cmp);
                Buckets::new(bounds.to_vec())
            }
            Self::Linear(start, width) => Buckets::linear(*start, *width, N),
            Self::Exponential(start, factor) => Buckets::exponential(*start, *factor, N),
        };
        // `Buckets::new` drops a trailing +Inf, leaving N - 1 bounds: use the defaults then too.
        let buckets = built
            .ok()
            .filter(|b| b.bounds().len() == N)
            .unwrap_or_else(|| Buckets::exponential(0.001, 2.0, N).expect("default bounds"));
        assert!(buckets.bounds().windows(2).all(|w| w[0] < w[1]) && buckets.bounds().iter().all(|b| b.is_finite()));
        let buckets = match resolution {
            // Accepted exactly when it is a positive normal number with a finite reciprocal.
            Some(r) => match buckets.clone().with_sum_resolution(r) {
                Ok(b) => {
                    assert!(r > 0.0 && r.is_normal() && (1.0 / r).is_finite(), "resolution {r} accepted");
                    b
                }
                Err(_) => {
                    assert!(!(r > 0.0 && r.is_normal() && (1.0 / r).is_finite()), "resolution {r} refused");
                    buckets
                }
            },
            None => buckets,
        };
        let r = buckets.sum_resolution();
        // Regression (fuzz/regressions/cells-zero-sum-resolution): the sum always has a unit.
        assert!(
            r > 0.0 && r.is_finite() && (1.0 / r).is_finite(),
            "sum_resolution() is {r} for bounds {:?}",
            buckets.bounds()
        );
        Arc::new(buckets)
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    one: BoundsSpec<1>,
    four: BoundsSpec<4>,
    forty: BoundsSpec<40>,
    resolution: Option<f64>,
    ops: Vec<Op>,
}

/// The reference model of one histogram.
struct HistogramModel {
    bounds: Vec<f64>,
    resolution: f64,
    counts: Vec<u64>,
    /// Exact-ish sum of the in-range observations, and of their magnitudes (error bound).
    sum: f64,
    magnitude: f64,
    /// Recording calls that added to the sum: each may round by half a unit.
    rounded: u64,
    /// Σ |weight · value| / resolution, to stay far from the i64 wrap of the fixed-point sum.
    units: f64,
    /// An observation was finite but too large to check the sum precisely.
    sum_unchecked: bool,
}

/// Largest |sum units| of one observation for which the reference checks the sum: far below the
/// 2^63 at which the fixed-point total saturates or wraps.
const UNIT_LIMIT: f64 = (1u64 << 50) as f64;
const TOTAL_UNIT_LIMIT: f64 = (1u64 << 60) as f64;

impl HistogramModel {
    fn new(buckets: &Buckets) -> Self {
        let mut m = Self {
            bounds: buckets.bounds().to_vec(),
            resolution: buckets.sum_resolution(),
            counts: Vec::new(),
            sum: 0.0,
            magnitude: 0.0,
            rounded: 0,
            units: 0.0,
            sum_unchecked: false,
        };
        m.reset();
        m
    }

    fn reset(&mut self) {
        self.counts = vec![0; self.bounds.len() + 1];
        self.sum = 0.0;
        self.magnitude = 0.0;
        self.rounded = 0;
        self.units = 0.0;
        self.sum_unchecked = false;
    }

    /// `le` semantics, computed independently of the library's bucket search.
    fn index(&self, v: f64) -> usize {
        if v.is_nan() {
            return self.bounds.len();
        }
        self.bounds.iter().position(|b| v <= *b).unwrap_or(self.bounds.len())
    }

    fn observe(&mut self, v: f64, n: u64) {
        let i = self.index(v);
        self.counts[i] = self.counts[i].wrapping_add(n);
        if !v.is_finite() || n == 0 || v == 0.0 {
            return; // adds nothing to the sum
        }
        #[allow(clippy::cast_precision_loss)]
        let exact = v * n as f64;
        let units = (exact / self.resolution).abs();
        if !exact.is_finite() || units.is_nan() || units > UNIT_LIMIT {
            self.sum_unchecked = true;
            return;
        }
        self.sum += exact;
        self.magnitude += exact.abs();
        self.units += units;
        self.rounded += 1;
        if self.units > TOTAL_UNIT_LIMIT {
            self.sum_unchecked = true;
        }
    }

    fn count(&self) -> u64 {
        self.counts.iter().fold(0, |a, b| a.wrapping_add(*b))
    }

    fn check<const N: usize>(&self, h: &Histogram<N>, what: &str) {
        let snapshot = h.snapshot();
        assert_eq!(snapshot.counts, self.counts, "{what}: bucket counts");
        assert_eq!(h.bucket_counts(), self.counts, "{what}: bucket_counts()");
        // Regression (fuzz/regressions/cells-count-overflow): `count()` wraps like the exposition.
        assert_eq!(h.count(), self.count(), "{what}: count()");
        assert!(!snapshot.sum.is_nan(), "{what}: sum is NaN");
        // Past f64::MAX (huge observations, or a huge resolution times the units) the sum is
        // infinite, in the reference as in the histogram: nothing left to compare.
        if self.sum_unchecked || !self.magnitude.is_finite() {
            return;
        }
        // Half a unit of rounding per recording call, plus float error in the scaling, the
        // conversion back and this reference's own additions.
        #[allow(clippy::cast_precision_loss)]
        let rounded = self.rounded as f64;
        let tolerance = self.resolution * (0.5 * rounded + 1.0)
            + 4.0 * f64::EPSILON * (rounded + 8.0) * (self.magnitude + snapshot.sum.abs());
        if snapshot.sum.is_infinite() && self.sum.abs() + tolerance >= f64::MAX {
            return; // within the tolerance of overflowing
        }
        assert!(
            (snapshot.sum - self.sum).abs() <= tolerance,
            "{what}: sum {} but the observations add up to {} (tolerance {tolerance}, resolution {})",
            snapshot.sum,
            self.sum,
            self.resolution
        );
    }
}

/// One histogram and its model, recorded through `&self` or a `Local` view.
struct Pair<const N: usize> {
    cell: Histogram<N>,
    model: HistogramModel,
}

impl<const N: usize> Pair<N> {
    fn new(buckets: Arc<Buckets>) -> Self {
        assert!(Histogram::<N>::new(Arc::clone(&buckets)).is_ok());
        if N != 1 {
            let one = Arc::new(Buckets::new(vec![1.0]).expect("one bound"));
            assert!(Histogram::<N>::new(one).is_err(), "a bound count mismatch is refused");
        }
        let model = HistogramModel::new(&buckets);
        Self { cell: Histogram::<N>::new(buckets).expect("matching bounds"), model }
    }

    fn observe(&mut self, v: f64, n: Option<u64>, local: bool) {
        match (n, local) {
            (None, false) => self.cell.observe(v),
            (None, true) => self.cell.local().observe(v),
            (Some(n), false) => self.cell.observe_n(v, n),
            (Some(n), true) => self.cell.local().observe_n(v, n),
        }
        self.model.observe(v, n.unwrap_or(1));
    }

    fn observe_ms(&mut self, ms: f64, local: bool) {
        if local {
            self.cell.local().observe_ms(ms);
        } else {
            self.cell.observe_ms(ms);
        }
        self.model.observe(ms / 1000.0, 1);
    }

    fn reset(&mut self) {
        Metric::reset(&self.cell);
        self.model.reset();
    }

    fn check(&mut self) {
        self.model.check(&self.cell, &format!("Histogram<{N}> over {:?}", self.model.bounds));
        assert_eq!(self.cell.local().count(), self.model.count(), "Local::count");
    }
}

struct Histograms {
    one: Pair<1>,
    four: Pair<4>,
    forty: Pair<40>,
}

impl Histograms {
    fn bounds(&self, which: Which) -> &[f64] {
        match which {
            Which::One => &self.one.model.bounds,
            Which::Four => &self.four.model.bounds,
            Which::Forty => &self.forty.model.bounds,
        }
    }

    fn with(&mut self, which: Which, f: impl FnOnce(&mut dyn Observe)) {
        match which {
            Which::One => f(&mut self.one),
            Which::Four => f(&mut self.four),
            Which::Forty => f(&mut self.forty),
        }
    }
}

/// `Pair<N>` without its `N`.
trait Observe {
    fn observe(&mut self, v: f64, n: Option<u64>, local: bool);
    fn observe_ms(&mut self, ms: f64, local: bool);
    fn reset(&mut self);
    fn check(&mut self);
}

impl<const N: usize> Observe for Pair<N> {
    fn observe(&mut self, v: f64, n: Option<u64>, local: bool) {
        Pair::observe(self, v, n, local);
    }
    fn observe_ms(&mut self, ms: f64, local: bool) {
        Pair::observe_ms(self, ms, local);
    }
    fn reset(&mut self) {
        Pair::reset(self);
    }
    fn check(&mut self) {
        Pair::check(self);
    }
}

fn same_float(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fuzz_target!(|input: Input| run(input));

fn run(input: Input) {
    let mut counter = Counter::default();
    let mut gauge = Gauge::default();
    let mut float = FloatGauge::default();
    let mut histograms = Histograms {
        one: Pair::new(input.one.buckets(input.resolution)),
        four: Pair::new(input.four.buckets(input.resolution)),
        forty: Pair::new(input.forty.buckets(input.resolution)),
    };
    let (mut c, mut g, mut f) = (0u64, 0i64, 0f64);
    // Bounds the work of one input: `ObserveMany` repeats up to 65535 times.
    let mut budget: u64 = 1 << 17;

    for op in input.ops.iter().take(512) {
        match *op {
            Op::CounterInc { local } => {
                if local {
                    counter.local().inc();
                } else {
                    counter.inc();
                }
                c = c.wrapping_add(1);
            }
            Op::CounterAdd { n, local } => {
                if local {
                    counter.local().add(n);
                } else {
                    counter.add(n);
                }
                c = c.wrapping_add(n);
            }
            Op::CounterReset => {
                Metric::reset(&counter);
                c = 0;
            }
            Op::GaugeSet { v, local } => {
                if local {
                    gauge.local().set(v);
                } else {
                    gauge.set(v);
                }
                g = v;
            }
            Op::GaugeSetU64 { v, local } => {
                if local {
                    gauge.local().set_u64(v);
                } else {
                    gauge.set_u64(v);
                }
                g = i64::try_from(v).unwrap_or(i64::MAX);
            }
            Op::GaugeAdd { v, local } => {
                if local {
                    gauge.local().add(v);
                } else {
                    gauge.add(v);
                }
                g = g.wrapping_add(v);
            }
            Op::GaugeInc { local } => {
                if local {
                    gauge.local().inc();
                } else {
                    gauge.inc();
                }
                g = g.wrapping_add(1);
            }
            Op::GaugeDec { local } => {
                if local {
                    gauge.local().dec();
                } else {
                    gauge.dec();
                }
                g = g.wrapping_sub(1);
            }
            Op::GaugeReset => {
                Metric::reset(&gauge);
                g = 0;
            }
            Op::FloatSet { v, local } => {
                let v = v.value(&[1.0]);
                if local {
                    float.local().set(v);
                } else {
                    float.set(v);
                }
                f = v;
            }
            Op::FloatAdd { v, local } => {
                let v = v.value(&[1.0]);
                if local {
                    float.local().add(v);
                } else {
                    float.add(v);
                }
                f += v;
            }
            Op::FloatReset => {
                Metric::reset(&float);
                f = 0.0;
            }
            Op::Observe { which, v, local } => {
                let v = v.value(histograms.bounds(which));
                histograms.with(which, |h| h.observe(v, None, local));
            }
            Op::ObserveN { which, v, n, local } => {
                let v = v.value(histograms.bounds(which));
                histograms.with(which, |h| h.observe(v, Some(n.value()), local));
            }
            Op::ObserveMs { which, v, local } => {
                let v = v.value(histograms.bounds(which));
                histograms.with(which, |h| h.observe_ms(v, local));
            }
            Op::ObserveMany { which, v, times, n, local } => {
                let v = v.value(histograms.bounds(which));
                let times = u64::from(times).min(budget);
                budget -= times;
                let n = n.value();
                histograms.with(which, |h| {
                    for _ in 0..times {
                        h.observe(v, Some(n), local);
                    }
                });
            }
            Op::HistogramReset(which) => histograms.with(which, |h| h.reset()),
        }
        assert_eq!(counter.get(), c, "counter after {op:?}");
        assert_eq!(counter.local().get(), c);
        assert_eq!(gauge.get(), g, "gauge after {op:?}");
        assert_eq!(gauge.local().get(), g);
        assert!(same_float(float.get(), f), "float gauge after {op:?}: {} != {f}", float.get());
        assert!(same_float(float.local().get(), f));
        if let Op::Observe { which, .. }
        | Op::ObserveN { which, .. }
        | Op::ObserveMs { which, .. }
        | Op::ObserveMany { which, .. }
        | Op::HistogramReset(which) = *op
        {
            histograms.with(which, |h| h.check());
        }
    }
    histograms.one.check();
    histograms.four.check();
    histograms.forty.check();
}
