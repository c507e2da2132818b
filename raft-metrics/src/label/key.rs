use xxhash_rust::xxh3::{xxh3_128, xxh3_128_with_seed};

/// The identity of a label set inside one family: a seeded 128-bit hash of its values.
///
/// Lookups compare fingerprints instead of strings, so a series' identity fits in two atomic words
/// that can be reread safely while the slot is reused for another label set. Two label sets share
/// a fingerprint with probability about `n² / 2^129` (10^-29 for a million series), and the seed is
/// random per family, so a hostile caller cannot aim for a collision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub(crate) u128);

impl Fingerprint {
    pub(crate) fn low(self) -> u64 {
        // Truncation keeps the low half, which is the point.
        #[allow(clippy::cast_possible_truncation)]
        let low = self.0 as u64;
        low
    }

    pub(crate) fn high(self) -> u64 {
        #[allow(clippy::cast_possible_truncation)]
        let high = (self.0 >> 64) as u64;
        high
    }
}

/// Words gathered before they are folded into the running hash.
const WORDS: usize = 8;
/// Keys up to this many words are cached per thread (see `family::cache`): two strings of up to
/// 16 bytes and an integer, or one string of up to 32 bytes and an integer.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) const CACHE_KEY_WORDS: usize = 8;
const TAG_INT: u64 = 1;
const TAG_NEG_INT: u64 = 5;
const TAG_SHORT_STR: u64 = 2;
const TAG_STR: u64 = 3;
const TAG_LONG_STR: u64 = 4;
/// Set on the tag word of an index fed after the values that follow it
/// ([`KeyBuilder::index_out_of_place`]): no tag word has it otherwise (tags are below 8, lengths
/// start at bit 8).
#[cfg_attr(loom, allow(dead_code))]
const OUT_OF_PLACE: u64 = 0x80;

/// Builds a [`Fingerprint`] from label values on the stack, without allocating or calling into
/// libc: values become 64-bit words (a tag word carrying the kind and length, then the content),
/// so the encoding of a tuple is prefix-free — `("a", "bc")` and `("ab", "c")` differ.
///
/// Strings up to 32 bytes are taken in as overlapping unaligned words (which, with the length,
/// determine every byte); longer ones as their 128-bit digest.
#[derive(Debug)]
pub struct KeyBuilder {
    words: [u64; WORDS],
    len: usize,
    /// Hash of everything already folded out of `words`; 0 while nothing was.
    chain: u64,
    /// A quick key (see [`KeyBuilder::quick`]): a string that may spell an integer is taken
    /// in as a string and marks the key `deferred`.
    quick: bool,
    /// A quick key met a string it did not parse: its words are then not the key.
    deferred: bool,
}

impl KeyBuilder {
    /// An empty key.
    #[allow(clippy::new_without_default)] // a key is built, not defaulted
    pub fn new() -> Self {
        Self { words: [0; WORDS], len: 0, chain: 0, quick: false, deferred: false }
    }

    /// An empty key for a lookup's inlined fast path: a string that starts like an integer
    /// (a digit or `-`) is taken in as a string, not parsed, and leaves the key deferred: no
    /// [`cache_key`](Self::cache_key), only [`spelled`](Self::spelled) words. The key's words
    /// then never wait on a call and stay in registers (the parse, a call, kept the whole key in
    /// memory: 14 instructions and about 1 ns of a guide call); a miss builds the key again
    /// with [`KeyBuilder::new`], out of line.
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn quick() -> Self {
        Self { quick: true, ..Self::new() }
    }

    /// Feeds an unsigned integer value: the same key as its decimal string.
    #[inline(always)]
    pub fn int(&mut self, v: u64) {
        self.put([TAG_INT, v]);
    }

    /// Feeds a signed integer value: the same key as its decimal string.
    #[inline(always)]
    pub fn signed(&mut self, v: i64) {
        match u64::try_from(v) {
            Ok(v) => self.int(v),
            Err(_) => self.put([TAG_NEG_INT, v.unsigned_abs()]),
        }
    }

    /// Feeds a string value.
    ///
    /// A key is a function of the exported text: a string that spells an integer the way
    /// integers are exported (`"7"`, `"-3"`, no sign on zero, no leading zeros) feeds the same
    /// key as that integer, so `("7",)` and `(7u32,)` name one series, not two with equal labels.
    #[inline(always)]
    pub fn str(&mut self, v: &str) {
        let bytes = v.as_bytes();
        if let Some(&first) = bytes.first() {
            if first.is_ascii_digit() || first == b'-' {
                if self.quick {
                    self.deferred = true;
                } else if let Some(words) = canonical_integer(bytes) {
                    self.put(words);
                    return;
                }
            }
        }
        let n = bytes.len();
        let tag = (n as u64) << 8;
        if n <= 16 {
            let (low, high) = if n >= 8 {
                (word64(bytes, 0), word64(bytes, n - 8))
            } else if n >= 4 {
                (word32(bytes, 0) | word32(bytes, n - 4) << 32, 0)
            } else if n > 0 {
                (u64::from(bytes[0]) | u64::from(bytes[n / 2]) << 8 | u64::from(bytes[n - 1]) << 16, 0)
            } else {
                (0, 0)
            };
            self.put([TAG_SHORT_STR | tag, low, high]);
        } else if n <= 32 {
            self.put([TAG_STR | tag, word64(bytes, 0), word64(bytes, 8), word64(bytes, n - 16), word64(bytes, n - 8)]);
        } else {
            self.put(long_str(bytes));
        }
    }

    /// Appends one value's words. A value's words stay together: when they do not fit, the
    /// words gathered so far are folded into the chain first. One check per value, not per word
    /// (a per-word check was a fifth of a cached lookup's instructions).
    // The fold takes the words alone and hands the chain back, so only `words` is borrowed out
    // of the builder: `len` and `chain` stay in registers on the inlined fast path (with
    // `&mut self` the whole builder lived in memory, and each push waited on reloading `len`).
    #[inline(always)]
    fn put<const K: usize>(&mut self, words: [u64; K]) {
        const { assert!(K <= WORDS) };
        if self.len + K > WORDS {
            self.chain = fold(&self.words[..self.len], self.chain);
            self.len = 0;
        }
        self.words[self.len..self.len + K].copy_from_slice(&words);
        self.len += K;
    }

    /// Feeds an index split off from before the values fed last
    /// (`LabelValues::SPLIT_REORDERS`): [`KeyBuilder::int`] with its tag marked as out of place,
    /// so that the key is no key of values fed in their declared place. Two keys whose words are
    /// all equal split into the same values at the same words, tags included.
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn index_out_of_place(&mut self, v: u64) {
        self.put([TAG_INT | OUT_OF_PLACE, v]);
    }

    /// The key's words, zero-padded, when it fits the per-thread cache.
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn cache_key(&self) -> Option<&[u64; CACHE_KEY_WORDS]> {
        (self.chain == 0 && !self.deferred).then_some(&self.words)
    }

    /// The words as fed, zero-padded, when they fit the per-thread cache, a quick key's
    /// unparsed strings included. Compared against keys that full builds made, they find the
    /// key or nothing, never another key: each unparsed string either does not spell an integer
    /// the way integers are exported, and a full build takes it in as a string too, or it does,
    /// and its words (a string's, under a tag that carries the value's kind and length, so that
    /// no other values' words line up with them) are in no key a full build makes, which takes
    /// that string in as the integer.
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) fn spelled(&self) -> Option<&[u64; CACHE_KEY_WORDS]> {
        (self.chain == 0).then_some(&self.words)
    }

    #[inline]
    pub(crate) fn finish(&self, seed: u64) -> Fingerprint {
        debug_assert!(!self.deferred, "a deferred key is built again, not finished");
        Fingerprint(xxh3_128_with_seed(as_bytes(&self.words[..self.len]), seed ^ self.chain))
    }
}

// The cold paths return their words rather than take the builder: a builder that never escapes
// to an out-of-line call can live in registers, so a lookup compares the words it just built
// without storing and reloading them.

/// The words of `bytes` as an integer when they spell one canonically. Cold: integers are
/// passed as integers on hot paths, and a string that starts like one is rare.
#[cold]
#[inline(never)]
fn canonical_integer(bytes: &[u8]) -> Option<[u64; 2]> {
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    let canonical = match digits {
        [] => false,
        [b'0'] => !negative,
        [first, ..] => *first != b'0' && digits.iter().all(u8::is_ascii_digit),
    };
    let magnitude = canonical.then(|| core::str::from_utf8(digits).ok()?.parse::<u64>().ok()).flatten()?;
    if !negative {
        Some([TAG_INT, magnitude])
    } else if magnitude <= 1 << 63 {
        Some([TAG_NEG_INT, magnitude])
    } else {
        None
    }
}

/// The words of a string too long to take in whole: its length and 128-bit digest.
#[cold]
#[inline(never)]
fn long_str(bytes: &[u8]) -> [u64; 3] {
    let digest = xxh3_128(bytes);
    // Truncations split the digest into its two halves.
    #[allow(clippy::cast_possible_truncation)]
    [TAG_LONG_STR | (bytes.len() as u64) << 8, digest as u64, (digest >> 64) as u64]
}

/// The chain after folding the gathered `words` into it.
#[cold]
#[inline(never)]
fn fold(words: &[u64], chain: u64) -> u64 {
    #[allow(clippy::cast_possible_truncation)] // folding 128 bits into a 64-bit chain seed
    let folded = xxh3_128_with_seed(as_bytes(words), chain) as u64;
    folded | 1
}

#[inline(always)]
fn word64(bytes: &[u8], at: usize) -> u64 {
    bytes.get(at..at + 8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes)
}

#[inline(always)]
fn word32(bytes: &[u8], at: usize) -> u64 {
    bytes.get(at..at + 4).and_then(|b| b.try_into().ok()).map_or(0, |b| u64::from(u32::from_le_bytes(b)))
}

#[inline]
fn as_bytes(words: &[u64]) -> &[u8] {
    // SAFETY: any initialised `u64`s are valid bytes; the slice covers exactly their memory
    // (`size_of_val` bytes) with `u8`'s alignment of 1, and borrows them for the same lifetime.
    unsafe { core::slice::from_raw_parts(words.as_ptr().cast::<u8>(), core::mem::size_of_val(words)) }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::label::LabelValues;

    fn fp<const N: usize>(values: impl LabelValues<N>) -> Fingerprint {
        let mut key = KeyBuilder::new();
        values.feed(&mut key);
        key.finish(42)
    }

    /// Every string length of the inline paths, each byte position changed: all distinct.
    #[test]
    fn inline_strings_are_taken_in_whole() {
        let base = "abcdefghijklmnopqrstuvwxyz0123456789";
        let mut seen = std::collections::HashSet::new();
        for n in 0..=34 {
            let s = &base[..n];
            assert!(seen.insert(fp((s,))), "length {n}");
            for i in 0..n {
                let mut changed = s.as_bytes().to_vec();
                changed[i] = b'#';
                let changed = String::from_utf8(changed).unwrap();
                assert!(seen.insert(fp((changed.as_str(),))), "length {n}, byte {i}");
            }
        }
    }

    /// Values that export the same text share a key; values that export different text do not.
    #[test]
    fn the_key_follows_the_exported_text() {
        assert_eq!(fp(("7",)), fp((7u32,)));
        assert_eq!(fp(("-3",)), fp((-3i64,)));
        assert_eq!(fp(("0",)), fp((0u8,)));
        assert_eq!(fp(("18446744073709551615",)), fp((u64::MAX,)));
        assert_eq!(fp(("-9223372036854775808",)), fp((i64::MIN,)));
        assert_eq!(fp(("true",)), fp((true,)));
        assert_ne!(fp(("-1",)), fp((u64::MAX,)));
        assert_ne!(fp((1u8,)), fp((true,)));
        for not_canonical in ["07", "-0", "+7", "7 ", "-", "18446744073709551616", "-9223372036854775809"] {
            assert_ne!(fp((not_canonical,)), fp((7u32,)), "{not_canonical}");
        }
        assert_ne!(fp(("18446744073709551616",)), fp((0u64,)));
    }

    #[test]
    fn encoding_is_prefix_free() {
        assert_ne!(fp(("a", "bc")), fp(("ab", "c")));
        assert_ne!(fp(("", "x")), fp(("x", "")));
        assert_ne!(fp((1u32, 2u32)), fp((2u32, 1u32)));
        assert_eq!(fp(("1",)), fp((1u32,)), "the key follows the exported text");
        assert_eq!(fp(("orders", 7u32)), fp((String::from("orders"), 7u64)));
    }

    #[test]
    fn long_values_hash_without_allocating_and_stay_distinct() {
        let a = "x".repeat(10_000);
        let mut b = a.clone();
        b.push('y');
        assert_ne!(fp((a.as_str(),)), fp((b.as_str(),)));
        let many: [&str; 6] = ["abcdefghijklmnopqrstuvwxyz0123456789"; 6];
        let mut other = many;
        other[5] = "abcdefghijklmnopqrstuvwxyz012345678Z";
        assert_ne!(fp(many), fp(other), "folded prefixes still count");
        let mut first = many;
        first[0] = "Abcdefghijklmnopqrstuvwxyz0123456789";
        assert_ne!(fp(many), fp(first), "the first value counts after folding");
    }
}
