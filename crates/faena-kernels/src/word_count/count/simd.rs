//! Classifying 64 bytes at once: which bytes are ASCII whitespace, which are `\n`, and which
//! may start a multi-byte whitespace character. On x86_64, AVX2 where the CPU has it (found at
//! run time: [`Avx2::detect`]) and SSE2, always available, elsewhere; a scalar loop on other
//! targets. All agree bit for bit (the tests compare them).

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

/// A way to classify blocks, chosen once per text; the counting loops are generic over it so
/// that each gets compiled for the instructions it may use.
pub trait Classify: Copy {
    fn classify(self, block: &[u8; BLOCK]) -> Masks;
}

/// [`classify`]: SSE2 on x86_64, scalar elsewhere.
#[derive(Debug, Clone, Copy)]
pub struct Baseline;

impl Classify for Baseline {
    #[inline(always)]
    fn classify(self, block: &[u8; BLOCK]) -> Masks {
        classify(block)
    }
}

/// AVX2, 32 bytes at a time; only made where the CPU has AVX2 and the bit instructions
/// (POPCNT, BMI1, BMI2) that the loops compiled for it use.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// The features the code compiled for [`Avx2`] enables (`#[target_feature]` takes a
    /// literal, so the functions repeat it).
    pub fn detect() -> Option<Avx2> {
        let has = std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("popcnt")
            && std::is_x86_feature_detected!("bmi1")
            && std::is_x86_feature_detected!("bmi2");
        has.then_some(Avx2(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl Classify for Avx2 {
    #[inline(always)]
    fn classify(self, block: &[u8; BLOCK]) -> Masks {
        // SAFETY: an `Avx2` exists only once `detect` found AVX2 on this CPU.
        unsafe { avx2::classify(block) }
    }
}

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

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_min_epu8, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_set1_epi8, _mm256_sub_epi8,
    };

    use super::{BLOCK, Masks};

    /// Classifies `block` 32 bytes at a time. Inlined into the callers compiled with AVX2.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX2.
    #[inline(always)]
    pub unsafe fn classify(block: &[u8; BLOCK]) -> Masks {
        // SAFETY: the caller promises AVX2; the loads read 2 × 32 bytes of the 64 of `block`.
        unsafe {
            let halves = [
                _mm256_loadu_si256(block.as_ptr().cast::<__m256i>()),
                _mm256_loadu_si256(block.as_ptr().add(32).cast::<__m256i>()),
            ];
            let mut masks = Masks::default();
            let mut high = 0;
            for (k, &v) in halves.iter().enumerate() {
                let ws = _mm256_or_si256(in_range(v, 0x09, 0x0D), in_range(v, 0x1C, 0x20));
                masks.ws |= bits(ws) << (32 * k);
                masks.newlines |= bits(_mm256_cmpeq_epi8(v, splat(b'\n'))) << (32 * k);
                high |= bits(v) << (32 * k);
            }
            // Only blocks with non-ASCII bytes can hold a lead byte.
            if high != 0 {
                for (k, &v) in halves.iter().enumerate() {
                    let c2 = _mm256_cmpeq_epi8(v, splat(0xC2));
                    let leads = _mm256_or_si256(c2, in_range(v, 0xE1, 0xE3));
                    masks.leads |= bits(leads) << (32 * k);
                }
            }
            masks
        }
    }

    #[inline(always)]
    unsafe fn splat(b: u8) -> __m256i {
        // SAFETY: the caller has AVX2.
        unsafe { _mm256_set1_epi8(b as i8) }
    }

    /// 0xFF in the lanes where `lo <= v <= hi` (unsigned), 0 elsewhere.
    #[inline(always)]
    unsafe fn in_range(v: __m256i, lo: u8, hi: u8) -> __m256i {
        // SAFETY: the caller has AVX2.
        unsafe {
            let offset = _mm256_sub_epi8(v, splat(lo));
            _mm256_cmpeq_epi8(_mm256_min_epu8(offset, splat(hi - lo)), offset)
        }
    }

    /// The top bit of each lane, as the low 32 bits of a `u64`.
    #[inline(always)]
    unsafe fn bits(v: __m256i) -> u64 {
        // SAFETY: the caller has AVX2.
        u64::from(unsafe { _mm256_movemask_epi8(v) } as u32)
    }
}
