//! What the guide's calls accept: the types real integration code has at hand.
//!
//! The guide passes `new_isr.len()` (a `usize`), `now_ms.saturating_sub(t)` (a `u64`), a
//! Kafka-style `i32` partition, `&self.node_id` (a `String`, or a raft library's `u64`), and
//! `1`/`2`/`3` or `"send"`/`"stale_term"` where an enum says the same. Each argument kind is one
//! trait here, implemented for those types, so every call compiles as written. The traits are
//! generic arguments, not conversions at run time: a call with a `u32` partition compiles to
//! what it did when the parameter was `u32`.
//!
//! Conversions that lose nothing keep the value; the rest saturate, as documented per trait.

use std::time::Duration;

use crate::LabelValue;

use super::schema::{ConfigChangeKind, NodeState, RejectReason, SnapshotDirection, SnapshotTrigger};

mod sealed {
    pub trait Sealed {}
}
use sealed::Sealed;

/// A count, a size or a log index: any primitive integer.
///
/// Negative values clamp to 0 (a count is never negative; a subtraction that went below zero
/// means "none"), and values above `u64::MAX` (from `u128`) clamp to `u64::MAX`.
pub trait Count: Copy + Sealed {
    /// The value as exported, clamped into `0..=u64::MAX`.
    fn to_u64(self) -> u64;
}

/// A duration in milliseconds, as the guide measures latencies: any primitive integer or float
/// (`elapsed().as_millis()`, a `u64` difference of timestamps, `45`, `3.5`), or a
/// [`Duration`] (taken exactly, not truncated to milliseconds). Exported in seconds.
///
/// A negative number is kept as given; a histogram files it in its first bucket.
pub trait Millis: Copy + Sealed {
    /// The duration in seconds.
    fn to_seconds(self) -> f64;
}

/// A partition (Raft group) id: any primitive integer up to 64 bits, exported as its decimal text.
///
/// `7i32`, `7u32` and `7usize` name one series. Kafka's `-1` ("no partition") is exported as
/// `"-1"`, not wrapped.
pub trait PartitionId: LabelValue + Copy + Sealed {}

/// A node, peer, leader or target id: `&str`, `String`, any primitive integer up to 64 bits
/// (raft-rs and openraft name nodes by `u64`), or a reference to one.
///
/// An integer id is rendered into the label once, when its series is created; later calls hash
/// it as a number, so they neither format nor allocate. Implement it for your own id type by
/// returning a label value that borrows from it:
///
/// ```
/// use raft_metrics::raft::NodeId;
/// use raft_metrics::{Format, LabelValue, RaftMetrics, Registry};
///
/// struct BrokerId(u32);
/// impl NodeId for BrokerId {
///     fn label(&self) -> impl LabelValue + '_ {
///         self.0
///     }
/// }
///
/// let registry = Registry::new();
/// let metrics = RaftMetrics::with_registry(&registry)?;
/// let leader = BrokerId(3);
/// metrics.record_append_entries_received("orders", 7, &leader);
/// let text = registry.encode_to_string(Format::Prometheus);
/// assert!(text.contains(r#"append_entries_received_total{topic="orders",partition="7",peer="3"} 1"#));
/// # Ok::<(), raft_metrics::RegistrationError>(())
/// ```
pub trait NodeId {
    /// The label value the id is exported as.
    fn label(&self) -> impl LabelValue + '_;
}

/// A node's role as the guide encodes it (`1` leader, `2` candidate, `3` follower, as any
/// primitive integer) or as a [`NodeState`].
///
/// A code outside `i64` saturates; an unknown code is exported as given and does not count as
/// leading.
pub trait StateCode: Copy + Sealed {
    /// The guide's numeric encoding.
    fn code(self) -> i64;
}

/// A label the guide passes as text that also has a fixed set of values `E`: the text itself
/// (`"send"`, `"add_node"`), or the enum, which is exported as the same text and so lands in the
/// same series.
pub trait Named<E>: LabelValue + Sealed {}

/// Every primitive integer but `u128` widens into `i128` without loss, which is where the clamps
/// are taken; the compiler folds them away where the source type already fits.
macro_rules! integers {
    ($($t:ty),*) => {$(
        impl Count for $t {
            #[inline(always)]
            fn to_u64(self) -> u64 {
                #[allow(clippy::cast_lossless, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let v = (self as i128).clamp(0, i128::from(u64::MAX)) as u64;
                v
            }
        }

        impl StateCode for $t {
            #[inline(always)]
            fn code(self) -> i64 {
                #[allow(clippy::cast_lossless, clippy::cast_possible_truncation)]
                let v = (self as i128).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
                v
            }
        }
    )*};
}
integers!(u8, u16, u32, u64, usize, i8, i16, i32, i64, i128, isize);

impl Count for u128 {
    #[inline(always)]
    fn to_u64(self) -> u64 {
        u64::try_from(self).unwrap_or(u64::MAX)
    }
}

impl StateCode for u128 {
    #[inline(always)]
    fn code(self) -> i64 {
        i64::try_from(self).unwrap_or(i64::MAX)
    }
}

/// What every primitive integer is, whatever its width.
macro_rules! any_integer {
    ($($t:ty),*) => {$(
        impl Sealed for $t {}

        impl Millis for $t {
            #[inline(always)]
            fn to_seconds(self) -> f64 {
                // Durations in milliseconds are far below 2^53, where the conversion is exact.
                #[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
                let ms = self as f64;
                ms / 1000.0
            }
        }
    )*};
}
any_integer!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

/// Integers that name things (label values hash integers up to 64 bits).
macro_rules! id_integer {
    ($($t:ty),*) => {$(
        impl PartitionId for $t {}

        impl NodeId for $t {
            #[inline(always)]
            fn label(&self) -> impl LabelValue + '_ {
                *self
            }
        }
    )*};
}
id_integer!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

macro_rules! floats {
    ($($t:ty),*) => {$(
        impl Sealed for $t {}

        impl Millis for $t {
            #[inline(always)]
            fn to_seconds(self) -> f64 {
                f64::from(self) / 1000.0
            }
        }
    )*};
}
floats!(f32, f64);

impl Sealed for Duration {}

impl Millis for Duration {
    #[inline(always)]
    fn to_seconds(self) -> f64 {
        self.as_secs_f64()
    }
}

impl NodeId for str {
    #[inline(always)]
    fn label(&self) -> impl LabelValue + '_ {
        self
    }
}

impl NodeId for String {
    #[inline(always)]
    fn label(&self) -> impl LabelValue + '_ {
        self.as_str()
    }
}

impl<T: NodeId + ?Sized> NodeId for &T {
    #[inline(always)]
    fn label(&self) -> impl LabelValue + '_ {
        (**self).label()
    }
}

impl Sealed for NodeState {}

impl StateCode for NodeState {
    #[inline(always)]
    fn code(self) -> i64 {
        Self::code(self)
    }
}

impl Sealed for str {}
impl Sealed for &str {}
impl Sealed for String {}
impl Sealed for &String {}
impl Sealed for SnapshotDirection {}
impl Sealed for SnapshotTrigger {}
impl Sealed for ConfigChangeKind {}

macro_rules! named {
    ($($e:ty),*) => {$(
        impl Named<$e> for $e {}
        impl Named<$e> for str {}
        impl Named<$e> for &str {}
        impl Named<$e> for String {}
        impl Named<$e> for &String {}
    )*};
}
named!(SnapshotDirection, SnapshotTrigger, ConfigChangeKind);

impl From<&str> for RejectReason {
    fn from(reason: &str) -> Self {
        Self::parse(reason)
    }
}

impl From<&String> for RejectReason {
    fn from(reason: &String) -> Self {
        Self::parse(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_clamp_into_u64() {
        assert_eq!((-3i32).to_u64(), 0);
        assert_eq!(i64::MIN.to_u64(), 0);
        assert_eq!(7usize.to_u64(), 7);
        assert_eq!(u64::MAX.to_u64(), u64::MAX);
        assert_eq!(u128::MAX.to_u64(), u64::MAX);
        assert_eq!((u128::from(u64::MAX) + 1).to_u64(), u64::MAX);
        assert_eq!(i128::MAX.to_u64(), u64::MAX);
    }

    #[test]
    fn millis_become_seconds() {
        assert_eq!(45i32.to_seconds(), 0.045);
        assert_eq!(12.5f64.to_seconds(), 0.0125);
        assert_eq!(2.5f32.to_seconds(), 0.0025);
        assert_eq!(1_764_000_000_000u64.to_seconds(), 1_764_000_000.0);
        assert_eq!(Duration::from_micros(1_500).to_seconds(), 0.0015);
        assert_eq!(3u128.to_seconds(), 0.003);
    }

    #[test]
    fn state_codes_saturate() {
        assert_eq!(1u8.code(), 1);
        assert_eq!(u64::MAX.code(), i64::MAX);
        assert_eq!((-1i32).code(), -1);
        assert_eq!(i128::MIN.code(), i64::MIN);
        assert_eq!(NodeState::Follower.code(), 3);
    }
}
