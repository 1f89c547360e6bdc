//! Counts of short words: an open-addressing hash table (linear probing, at most half full)
//! from a word packed into two `u64` to its occurrences, made for the one operation the tally
//! repeats per word — find or insert, then increment — with one multiplication for the hash
//! and one cache line per lookup in the usual case.

use std::hash::BuildHasher;

/// A packed word (see `tally::pack`): never all zero, since its top byte holds its length.
pub(super) type Key = [u64; 2];

/// An empty slot's key (no packed word is zero: its top byte is its length, at least 1).
const EMPTY: Key = [0, 0];
/// Slots of a new table that has had a word.
const FIRST_CAPACITY: usize = 256;

/// Occurrences of short words.
#[derive(Debug, Clone)]
pub(super) struct ShortWords {
    /// `capacity` slots (a power of two, or none before the first word), at most half used.
    slots: Vec<Slot>,
    len: usize,
    /// Random, per table, so crafted input cannot aim at collisions.
    seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    key: Key,
    count: u64,
}

const FREE: Slot = Slot {
    key: EMPTY,
    count: 0,
};

impl Default for ShortWords {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            len: 0,
            seed: foldhash::fast::RandomState::default().hash_one(0x5EED_u64) | 1,
        }
    }
}

impl ShortWords {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Adds `n` occurrences of `key`.
    #[inline(always)]
    pub(super) fn add(&mut self, key: Key, n: u64) {
        if 2 * (self.len + 1) > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.hash(key) & mask;
        loop {
            let slot = &mut self.slots[i];
            if slot.key == key {
                slot.count += n;
                return;
            }
            if slot.key == EMPTY {
                *slot = Slot { key, count: n };
                self.len += 1;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// The occurrences of `key` (0 if it never occurred).
    pub(super) fn get(&self, key: Key) -> u64 {
        if self.slots.is_empty() {
            return 0;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.hash(key) & mask;
        loop {
            let slot = &self.slots[i];
            if slot.key == key || slot.key == EMPTY {
                return slot.count;
            }
            i = (i + 1) & mask;
        }
    }

    /// The words and their counts, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (Key, u64)> + '_ {
        (self.slots.iter())
            .filter(|s| s.key != EMPTY)
            .map(|s| (s.key, s.count))
    }

    /// Adds `other`'s counts to these (the smaller table goes into the larger).
    pub(super) fn merge(&mut self, mut other: ShortWords) {
        if other.len > self.len {
            std::mem::swap(self, &mut other);
        }
        for (key, n) in other.iter() {
            self.add(key, n);
        }
    }

    /// A folded multiply of the two halves, each mixed with the seed: the low bits depend on
    /// every bit of the word.
    #[inline]
    fn hash(&self, key: Key) -> usize {
        let product = u128::from(key[0] ^ self.seed)
            * u128::from(key[1] ^ self.seed.rotate_left(32) ^ 0x243F_6A88_85A3_08D3);
        (product as u64 ^ (product >> 64) as u64) as usize
    }

    #[cold]
    fn grow(&mut self) {
        let capacity = (2 * self.slots.len()).max(FIRST_CAPACITY);
        let old = std::mem::replace(&mut self.slots, vec![FREE; capacity]);
        self.len = 0;
        for slot in old.into_iter().filter(|s| s.key != EMPTY) {
            self.add(slot.key, slot.count);
        }
    }
}

/// Equal when the same words have the same counts.
impl PartialEq for ShortWords {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().all(|(key, n)| other.get(key) == n)
    }
}

impl Eq for ShortWords {}
