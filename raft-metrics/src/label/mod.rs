//! Label values: how a caller's `("orders", 7)` becomes a fingerprint (lookups) and a rendered
//! `topic="orders",partition="7"` string (creation, once per series).

mod key;

#[cfg(not(loom))]
pub(crate) use key::CACHE_KEY_WORDS;
pub use key::{Fingerprint, KeyBuilder};

/// A label whose values are known at compile time: an enum that indexes an array of cells.
///
/// `#[derive(LabelValue)]` implements it; by hand, list the exported values in variant order and
/// map each variant to its position.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a fixed-cardinality label",
    label = "not an `EnumLabel`",
    note = "derive it on a fieldless enum: `#[derive(Clone, Copy, LabelValue)]`"
)]
pub trait EnumLabel: Copy + Send + Sync + 'static {
    /// The exported value of each variant, in index order.
    const VALUES: &'static [&'static str];
    /// This variant's position in [`EnumLabel::VALUES`].
    fn index(self) -> usize;
}

/// One label value supplied at run time.
///
/// Implemented for strings, integers, `bool` and every [`EnumLabel`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a label value",
    label = "not a `LabelValue`",
    note = "label values are strings, integers, `bool`, or enums with `#[derive(LabelValue)]`"
)]
pub trait LabelValue {
    /// Feeds the value into a lookup key: two values must feed the same words exactly when
    /// [`LabelValue::write`] writes the same text (use [`KeyBuilder::str`] with that text, or
    /// [`KeyBuilder::int`]/[`KeyBuilder::signed`] for integers).
    fn feed(&self, key: &mut KeyBuilder);
    /// Writes the value as exported, before escaping.
    fn write(&self, out: &mut String);
    /// The value as an index, when feeding it is exactly [`KeyBuilder::int`] of that index (a
    /// non-negative integer): a lookup whose last label is one indexes a per-thread row of
    /// series by it instead of hashing the whole key. `None` (the default) for anything else.
    #[inline(always)]
    fn as_index(&self) -> Option<u64> {
        None
    }
}

impl LabelValue for str {
    #[inline(always)]
    fn feed(&self, key: &mut KeyBuilder) {
        key.str(self);
    }
    fn write(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl LabelValue for &str {
    #[inline(always)]
    fn feed(&self, key: &mut KeyBuilder) {
        key.str(self);
    }
    fn write(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl LabelValue for String {
    #[inline(always)]
    fn feed(&self, key: &mut KeyBuilder) {
        key.str(self);
    }
    fn write(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl LabelValue for &String {
    #[inline(always)]
    fn feed(&self, key: &mut KeyBuilder) {
        key.str(self);
    }
    fn write(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl LabelValue for bool {
    #[inline(always)]
    fn feed(&self, key: &mut KeyBuilder) {
        key.str(if *self { "true" } else { "false" });
    }
    fn write(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

macro_rules! unsigned_label {
    ($($t:ty),*) => {$(
        impl LabelValue for $t {
            #[inline(always)]
            fn feed(&self, key: &mut KeyBuilder) {
                key.int(*self as u64);
            }
            fn write(&self, out: &mut String) {
                out.push_str(itoa::Buffer::new().format(*self));
            }
            #[inline(always)]
            fn as_index(&self) -> Option<u64> {
                Some(*self as u64)
            }
        }
    )*};
}
macro_rules! signed_label {
    ($($t:ty),*) => {$(
        impl LabelValue for $t {
            #[inline(always)]
            fn feed(&self, key: &mut KeyBuilder) {
                key.signed(*self as i64);
            }
            fn write(&self, out: &mut String) {
                out.push_str(itoa::Buffer::new().format(*self));
            }
            #[inline(always)]
            fn as_index(&self) -> Option<u64> {
                // `signed` feeds a non-negative value as `int`.
                u64::try_from(*self).ok()
            }
        }
    )*};
}
unsigned_label!(u8, u16, u32, u64, usize);
signed_label!(i8, i16, i32, i64, isize);

impl<E: EnumLabel> LabelValue for E {
    // Fed as its exported name, so an enum and a string with the same text share a series.
    #[inline(always)]
    fn feed(&self, key: &mut KeyBuilder) {
        key.str(E::VALUES.get(self.index()).copied().unwrap_or_default());
    }
    fn write(&self, out: &mut String) {
        out.push_str(E::VALUES.get(self.index()).copied().unwrap_or_default());
    }
}

/// The values of all `N` labels of a family, in the order the family declared the names.
///
/// Implemented for tuples of [`LabelValue`]s (up to 6), for arrays `[V; N]`, for `()` and, for
/// one label, for a bare value.
/// The arity is part of the type, so a call with the wrong number of values does not compile.
pub trait LabelValues<const N: usize> {
    /// Feeds every value into the lookup key.
    fn feed(&self, key: &mut KeyBuilder);
    /// Calls `f` with each value in order.
    fn for_each(&self, f: &mut dyn FnMut(&dyn LabelValue));
    /// For one or two values, feeds every value but a last one that is an index
    /// ([`LabelValue::as_index`]) and returns that index; for three values whose second is an
    /// index (`(topic, partition, peer)`), feeds the first and then the third and returns the
    /// second; otherwise feeds every value and returns `None`. The whole key is the fed words
    /// followed by [`KeyBuilder::int`] of the index, the key [`feed`](Self::feed) makes; when
    /// [`SPLIT_REORDERS`](Self::SPLIT_REORDERS), by the index marked as out of place instead, a
    /// key no values fed in their place make.
    #[inline(always)]
    fn feed_split(&self, key: &mut KeyBuilder) -> Option<u64> {
        self.feed(key);
        None
    }

    /// Whether a key that [`feed_split`](Self::feed_split) split is not the one
    /// [`feed`](Self::feed) makes (three values): the per-thread caches then key the label set
    /// in the split's order, the index marked, and the family's fingerprint is taken from `feed`.
    const SPLIT_REORDERS: bool = false;
}

impl LabelValues<0> for () {
    #[inline(always)]
    fn feed(&self, _key: &mut KeyBuilder) {}
    fn for_each(&self, _f: &mut dyn FnMut(&dyn LabelValue)) {}
}

/// One label's value, bare: `family.get("orders")` as well as `family.get(("orders",))`.
impl<V: LabelValue> LabelValues<1> for V {
    #[inline(always)]
    fn feed(&self, key: &mut KeyBuilder) {
        LabelValue::feed(self, key);
    }
    fn for_each(&self, f: &mut dyn FnMut(&dyn LabelValue)) {
        f(self);
    }
    #[inline(always)]
    fn feed_split(&self, key: &mut KeyBuilder) -> Option<u64> {
        split_last(self, key)
    }
}

/// `feed_split`'s last value: returned as an index when it is one, fed otherwise.
#[inline(always)]
fn split_last(last: &(impl LabelValue + ?Sized), key: &mut KeyBuilder) -> Option<u64> {
    let index = last.as_index();
    if index.is_none() {
        last.feed(key);
    }
    index
}

impl<V: LabelValue, const N: usize> LabelValues<N> for [V; N] {
    #[inline(always)]
    fn feed(&self, key: &mut KeyBuilder) {
        self.iter().for_each(|v| v.feed(key));
    }
    fn for_each(&self, f: &mut dyn FnMut(&dyn LabelValue)) {
        self.iter().for_each(|v| f(v));
    }
}

// Label sets of one or two values split off a trailing index: `(topic, partition)`, whose
// prefix stays while the index varies. Three values split off the middle one, `(topic,
// partition, peer)`: split off the last, the prefix `(topic, partition)` would change from call
// to call on a thread walking its partitions, a row would be taken over again and again, and
// every lookup would pay for the row's miss on top of the cache's hit (1.8 times the
// instructions of `set_follower_lag_entries` across 1 024 partitions,
// `benches/guide_calls_ab.sh`), where the prefix `(topic, peer)` stays for a thread's walk, with
// a row per peer. More values go to the cache alone.
macro_rules! tuple_labels {
    ($n:literal, split $split:literal: $($name:ident $idx:tt),* ; $last_name:ident $last:tt) => {
        impl<$($name: LabelValue,)* $last_name: LabelValue> LabelValues<$n> for ($($name,)* $last_name,) {
            #[inline(always)]
            fn feed(&self, key: &mut KeyBuilder) {
                $(self.$idx.feed(key);)*
                self.$last.feed(key);
            }
            fn for_each(&self, f: &mut dyn FnMut(&dyn LabelValue)) {
                $(f(&self.$idx);)*
                f(&self.$last);
            }
            #[inline(always)]
            fn feed_split(&self, key: &mut KeyBuilder) -> Option<u64> {
                if !$split {
                    self.feed(key);
                    return None;
                }
                $(self.$idx.feed(key);)*
                split_last(&self.$last, key)
            }
        }
    };
}
tuple_labels!(1, split true: ; A 0);
tuple_labels!(2, split true: A 0; B 1);

impl<A: LabelValue, B: LabelValue, C: LabelValue> LabelValues<3> for (A, B, C) {
    #[inline(always)]
    fn feed(&self, key: &mut KeyBuilder) {
        self.0.feed(key);
        self.1.feed(key);
        self.2.feed(key);
    }
    fn for_each(&self, f: &mut dyn FnMut(&dyn LabelValue)) {
        f(&self.0);
        f(&self.1);
        f(&self.2);
    }
    #[inline(always)]
    fn feed_split(&self, key: &mut KeyBuilder) -> Option<u64> {
        let Some(index) = self.1.as_index() else {
            self.feed(key);
            return None;
        };
        self.0.feed(key);
        self.2.feed(key);
        Some(index)
    }
    const SPLIT_REORDERS: bool = true;
}
tuple_labels!(4, split false: A 0, B 1, C 2; D 3);
tuple_labels!(5, split false: A 0, B 1, C 2, D 3; E 4);
tuple_labels!(6, split false: A 0, B 1, C 2, D 3, E 4; F 5);
