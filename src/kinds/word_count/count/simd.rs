//! Classifying 64 bytes at once: which bytes are ASCII whitespace, which are `\n`, and which
//! may start a multi-byte whitespace character. SSE2 on x86_64, where it is always available; a
//! scalar loop elsewhere. The two agree bit for bit (the tests compare them).

/// Bytes classified at once: one bit each in a `u64`.
pub const BLOCK: usize = 64;

/// What [`classify`] finds in a block: bit `i` of each mask stands for byte `i`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Masks {
    /// ASCII whitespace: 0x09..=0x0D and 0x1C..=0x20.
    pub ws: u64,
    /// `\n`.
    pub newlines: u64,
    /// The lead bytes of the multi-byte whitespace characters: 0xC2, 0xE1, 0xE2 and 0xE3.
    pub leads: u64,
}

#[cfg(target_arch = "x86_64")]
pub use sse2::classify;

#[cfg(not(target_arch = "x86_64"))]
pub use classify_scalar as classify;

/// The portable version of [`classify`], one byte at a time.
#[cfg(any(test, not(target_arch = "x86_64")))]
pub fn classify_scalar(block: &[u8; BLOCK]) -> Masks {
    let mut masks = Masks::default();
    for (i, &b) in block.iter().enumerate() {
        masks.ws |= u64::from(matches!(b, 0x09..=0x0D | 0x1C..=0x20)) << i;
        masks.newlines |= u64::from(b == b'\n') << i;
        masks.leads |= u64::from(matches!(b, 0xC2 | 0xE1..=0xE3)) << i;
    }
    masks
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x,
        _mm_set1_epi8, _mm_sub_epi8,
    };

    use super::{BLOCK, Masks};

    /// Classifies `block` sixteen bytes at a time.
    #[inline]
    pub fn classify(block: &[u8; BLOCK]) -> Masks {
        // SAFETY: SSE2 is part of the x86_64 baseline, every x86_64 CPU has it (the compiler
        // still wants the call to a `#[target_feature]` function marked).
        unsafe { classify_sse2(block) }
    }

    #[target_feature(enable = "sse2")]
    fn classify_sse2(block: &[u8; BLOCK]) -> Masks {
        let (chunks, _) = block.as_chunks::<16>();
        let mut masks = Masks::default();
        let mut high = 0;
        for (k, chunk) in chunks.iter().enumerate() {
            let v = load(chunk);
            let ws = _mm_or_si128(in_range(v, 0x09, 0x0D), in_range(v, 0x1C, 0x20));
            masks.ws |= bits(ws) << (16 * k);
            masks.newlines |= bits(_mm_cmpeq_epi8(v, splat(b'\n'))) << (16 * k);
            high |= bits(v) << (16 * k);
        }
        // Only blocks with non-ASCII bytes can hold a lead byte.
        if high != 0 {
            for (k, chunk) in chunks.iter().enumerate() {
                let v = load(chunk);
                let leads = _mm_or_si128(_mm_cmpeq_epi8(v, splat(0xC2)), in_range(v, 0xE1, 0xE3));
                masks.leads |= bits(leads) << (16 * k);
            }
        }
        masks
    }

    /// Sixteen bytes as a vector (without `unsafe`: the compiler turns this into one load).
    #[inline]
    #[target_feature(enable = "sse2")]
    fn load(chunk: &[u8; 16]) -> __m128i {
        let bytes = u128::from_le_bytes(*chunk);
        _mm_set_epi64x((bytes >> 64) as i64, bytes as i64)
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn splat(b: u8) -> __m128i {
        _mm_set1_epi8(b as i8)
    }

    /// 0xFF in the lanes where `lo <= v <= hi` (unsigned), 0 elsewhere.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn in_range(v: __m128i, lo: u8, hi: u8) -> __m128i {
        let offset = _mm_sub_epi8(v, splat(lo));
        _mm_cmpeq_epi8(_mm_min_epu8(offset, splat(hi - lo)), offset)
    }

    /// The top bit of each lane, as the low 16 bits of a `u64`.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn bits(v: __m128i) -> u64 {
        u64::from(_mm_movemask_epi8(v) as u16)
    }
}
