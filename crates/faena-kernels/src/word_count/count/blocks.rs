//! The blocks of a text: 64 bytes at a time, the bytes of whitespace characters (multi-byte
//! ones included) and of newlines as bits of a `u64`, for the counting loops of the parent.

use super::simd::{BLOCK, Classify};

/// The length of the multi-byte whitespace character at the start of `bytes`, or 0.
#[inline]
fn wide_ws_len(bytes: &[u8]) -> u32 {
    match *bytes {
        [0xC2, 0x85 | 0xA0, ..] => 2,
        [0xE1, 0x9A, 0x80, ..]
        | [0xE2, 0x80, 0x80..=0x8A | 0xA8 | 0xA9 | 0xAF, ..]
        | [0xE2, 0x81, 0x9F, ..]
        | [0xE3, 0x80, 0x80, ..] => 3,
        _ => 0,
    }
}

/// One block of a text: bit `i` of each mask stands for byte `base + i`.
pub(super) struct Block {
    pub base: usize,
    /// The bytes of whitespace characters, multi-byte ones included. Bytes past the end of the
    /// text (the padding of a last, short block) count as whitespace.
    pub ws: u64,
    pub newlines: u64,
}

/// The blocks of a text, in order, classified by `C`.
pub(super) struct Blocks<'a, C> {
    classify: C,
    text: &'a [u8],
    base: usize,
    /// Bits of the next block that belong to a whitespace character begun in this one.
    spill: u64,
}

impl<'a, C: Classify> Blocks<'a, C> {
    #[inline(always)]
    pub fn new(text: &'a [u8], classify: C) -> Self {
        Self {
            classify,
            text,
            base: 0,
            spill: 0,
        }
    }

    /// Marks the bytes of the multi-byte whitespace characters that start at `leads` (bits of
    /// the current block) in `ws`, and in `self.spill` for those that run into the next block.
    #[cold]
    fn mark_wide(&mut self, mut leads: u64, ws: &mut u64) {
        while leads != 0 {
            let at = leads.trailing_zeros();
            let len = wide_ws_len(&self.text[self.base + at as usize..]);
            let bits = ((1_u128 << len) - 1) << at;
            *ws |= bits as u64;
            self.spill |= (bits >> 64) as u64;
            leads &= leads - 1;
        }
    }
}

impl<C: Classify> Iterator for Blocks<'_, C> {
    type Item = Block;

    #[inline(always)]
    fn next(&mut self) -> Option<Block> {
        let rest = self.text.get(self.base..).filter(|rest| !rest.is_empty())?;
        let masks = match rest.first_chunk::<BLOCK>() {
            Some(block) => self.classify.classify(block),
            None => {
                let mut padded = [b' '; BLOCK];
                padded[..rest.len()].copy_from_slice(rest);
                self.classify.classify(&padded)
            }
        };
        let mut ws = masks.ws | std::mem::take(&mut self.spill);
        if masks.leads != 0 {
            self.mark_wide(masks.leads, &mut ws);
        }
        let block = Block {
            base: self.base,
            ws,
            newlines: masks.newlines,
        };
        self.base += BLOCK;
        Some(block)
    }
}
