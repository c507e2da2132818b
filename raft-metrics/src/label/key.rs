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

const BUFFER: usize = 64;
/// Strings longer than this are fed as their own 128-bit digest, so a key never needs the heap.
const INLINE_STRING: usize = 40;
const TAG_INT: u8 = 1;
const TAG_STR: u8 = 2;
const TAG_LONG_STR: u8 = 3;

/// Builds a [`Fingerprint`] from label values on the stack, without allocating.
///
/// Each value is written with a tag and its length, so the encoding of a tuple is prefix-free:
/// `("a", "bc")` and `("ab", "c")` feed different bytes.
#[derive(Debug)]
pub struct KeyBuilder {
    buffer: [u8; BUFFER],
    len: usize,
    /// Hash of everything already flushed out of `buffer`.
    chain: u64,
}

impl KeyBuilder {
    pub(crate) fn new() -> Self {
        Self { buffer: [0; BUFFER], len: 0, chain: 0 }
    }

    /// Feeds an integer value.
    #[inline]
    pub fn int(&mut self, v: u64) {
        let mut record = [0u8; 9];
        record[0] = TAG_INT;
        record[1..].copy_from_slice(&v.to_le_bytes());
        self.push(&record);
    }

    /// Feeds a string value.
    #[inline]
    pub fn str(&mut self, v: &str) {
        let bytes = v.as_bytes();
        if bytes.len() <= INLINE_STRING {
            // INLINE_STRING < 256, so the length fits one byte.
            #[allow(clippy::cast_possible_truncation)]
            self.push(&[TAG_STR, bytes.len() as u8]);
            self.push(bytes);
        } else {
            self.long_str(bytes);
        }
    }

    #[cold]
    fn long_str(&mut self, bytes: &[u8]) {
        let mut record = [0u8; 25];
        record[0] = TAG_LONG_STR;
        record[1..17].copy_from_slice(&xxh3_128(bytes).to_le_bytes());
        record[17..].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.push(&record);
    }

    #[inline]
    fn push(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > BUFFER {
            self.flush();
        }
        self.buffer[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    #[cold]
    fn flush(&mut self) {
        #[allow(clippy::cast_possible_truncation)] // folding 128 bits into a 64-bit chain seed
        let folded = xxh3_128_with_seed(&self.buffer[..self.len], self.chain) as u64;
        self.chain = folded ^ 0x9e37_79b9_7f4a_7c15;
        self.len = 0;
    }

    #[inline]
    pub(crate) fn finish(&self, seed: u64) -> Fingerprint {
        Fingerprint(xxh3_128_with_seed(&self.buffer[..self.len], seed ^ self.chain))
    }
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

    #[test]
    fn encoding_is_prefix_free() {
        assert_ne!(fp(("a", "bc")), fp(("ab", "c")));
        assert_ne!(fp(("", "x")), fp(("x", "")));
        assert_ne!(fp((1u32, 2u32)), fp((2u32, 1u32)));
        assert_ne!(fp(("1",)), fp((1u32,)));
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
        assert_ne!(fp(many), fp(other), "flushed prefixes still count");
    }
}
