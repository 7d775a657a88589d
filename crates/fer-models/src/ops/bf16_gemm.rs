//! The GEMM of `--precision bf16` (`matmul_precision`): fp32 operands rounded to bf16 (nearest
//! even, as PyTorch's autocast casts them), multiplied with fp32 accumulation by AVX-512 BF16's
//! `vdpbf16ps`, which does 32 multiply-adds per instruction against fp32 FMA's 16. Not part of
//! the paper (it trains in fp32); an opt-in for speed.
//!
//! The layout is the usual packed GEMM. `vdpbf16ps` multiplies pairs: each 32-bit lane holds
//! two bf16 values of consecutive k, so both operands are packed as k-pairs. The left operand
//! goes into panels of `MR` rows ([pair][row]), the right one into panels of `NR` columns
//! ([pair][column]), in blocks of `KC` pairs so a panel stays in the L1/L2 caches. The
//! micro-kernel keeps an MR x NR tile of fp32 sums in 16 registers. Every output element is
//! summed in the same order whatever the thread count (the k blocks in turn, never split across
//! threads), so seeded runs stay bit-reproducible.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use rayon::prelude::*;

/// Rows of the micro-kernel's tile.
const MR: usize = 8;
/// Columns of the micro-kernel's tile: two 16-lane registers.
const NR: usize = 32;
/// k-pairs per block (512 values of k): an A panel block is 16 KB, a B panel block 32 KB.
const KC: usize = 256;
/// Columns per block of the right operand that one task packs and sweeps.
const NC: usize = 256;

/// Whether this processor has the instructions (AVX-512 F, BW and BF16).
pub(crate) fn is_supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// f32 -> bf16 bits, rounded to nearest even; a NaN stays a NaN (as `vcvtneps2bf16`).
fn bf16_bits(x: f32) -> u32 {
    let b = x.to_bits();
    if x.is_nan() {
        return (b >> 16) | 0x40;
    }
    (b.wrapping_add(0x7FFF + ((b >> 16) & 1))) >> 16
}

/// The pair (lo, hi) as one lane: lo in the low half, as `vdpbf16ps` reads it.
fn pair(lo: f32, hi: f32) -> u32 {
    bf16_bits(lo) | (bf16_bits(hi) << 16)
}

/// The value bf16 rounding gives (for tests and the scalar reference).
#[cfg(test)]
pub(crate) fn round_to_bf16(x: f32) -> f32 {
    f32::from_bits(bf16_bits(x) << 16)
}

/// A read-only strided matrix view: element (i, j) at `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
struct View<'a> {
    data: &'a [f32],
    rs: usize,
    cs: usize,
}

impl View<'_> {
    fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.rs + j * self.cs]
    }
}

/// Packs rows `rows` of the left operand (m x k) into MR-row panels of pairs:
/// `out[panel][p][r]`, zero beyond m and k.
fn pack_a(a: View, m: usize, k: usize, out: &mut [u32]) {
    let kp = k.div_ceil(2);
    for (panel, dst) in out.chunks_mut(kp * MR).enumerate() {
        let i0 = panel * MR;
        for r in 0..MR {
            let i = i0 + r;
            if i >= m {
                for p in 0..kp {
                    dst[p * MR + r] = 0;
                }
                continue;
            }
            #[cfg(target_arch = "x86_64")]
            if a.cs == 1 {
                // The row's pairs are adjacent in memory: convert 16 pairs at a time.
                // SAFETY: is_supported() was checked by the caller; the row holds k values
                // from i * rs, inside `data` (checked by the caller's length assertions).
                unsafe { pack_contiguous_pairs(&a.data[i * a.rs..][..k], dst, r, MR) };
                continue;
            }
            for p in 0..kp {
                let hi = if 2 * p + 1 < k {
                    a.at(i, 2 * p + 1)
                } else {
                    0.0
                };
                dst[p * MR + r] = pair(a.at(i, 2 * p), hi);
            }
        }
    }
}

/// Packs pairs `p0..p0 + kc` and columns `j0..j0 + nc` of the right operand (k x n) into
/// NR-column panels: `out[panel][p][c]`, zero beyond n and k.
fn pack_b(b: View, k: usize, (p0, kc): (usize, usize), (j0, nc): (usize, usize), out: &mut [u32]) {
    for (panel, dst) in out.chunks_mut(kc * NR).take(nc.div_ceil(NR)).enumerate() {
        let jp = j0 + panel * NR;
        let cols = NR.min(j0 + nc - jp);
        #[cfg(target_arch = "x86_64")]
        {
            if b.cs == 1 {
                // Rows 2p and 2p + 1 are contiguous along the columns.
                for p in 0..kc {
                    let kk = 2 * (p0 + p);
                    let r0 = &b.data[kk * b.rs + jp..][..cols];
                    let r1 = (kk + 1 < k).then(|| &b.data[(kk + 1) * b.rs + jp..][..cols]);
                    // SAFETY: is_supported() was checked by the caller; slices bound-checked.
                    unsafe { pack_two_rows(r0, r1, &mut dst[p * NR..][..NR]) };
                }
                continue;
            }
            if b.rs == 1 {
                // Column j's k values are contiguous: its pairs are adjacent.
                for c in 0..NR {
                    if c >= cols {
                        for p in 0..kc {
                            dst[p * NR + c] = 0;
                        }
                        continue;
                    }
                    let start = (jp + c) * b.cs + 2 * p0;
                    let len = (2 * kc).min(k - 2 * p0);
                    // SAFETY: as above.
                    unsafe { pack_contiguous_pairs(&b.data[start..][..len], dst, c, NR) };
                    for p in len.div_ceil(2)..kc {
                        dst[p * NR + c] = 0;
                    }
                }
                continue;
            }
        }
        for p in 0..kc {
            let kk = 2 * (p0 + p);
            for c in 0..NR {
                dst[p * NR + c] = if c < cols {
                    let hi = if kk + 1 < k {
                        b.at(kk + 1, jp + c)
                    } else {
                        0.0
                    };
                    pair(b.at(kk, jp + c), hi)
                } else {
                    0
                };
            }
        }
    }
}

/// `dst[p * lanes + lane] = pair(src[2p], src[2p + 1])` for the pairs of `src` (an odd length
/// pairs the last value with 0), 16 pairs per conversion.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn pack_contiguous_pairs(src: &[f32], dst: &mut [u32], lane: usize, lanes: usize) {
    // SAFETY: the function's own contract (target features present, bounds as documented).
    unsafe {
        let mut tmp = [0u32; 16];
        for (q, chunk) in src.chunks(32).enumerate() {
            let n = chunk.len();
            let m0: __mmask16 = if n >= 16 { 0xFFFF } else { (1u16 << n) - 1 };
            let m1: __mmask16 = if n >= 32 {
                0xFFFF
            } else if n > 16 {
                (1u16 << (n - 16)) - 1
            } else {
                0
            };
            // SAFETY: the masks keep both loads inside `chunk`; zeros fill the rest.
            let x0 = _mm512_maskz_loadu_ps(m0, chunk.as_ptr());
            let x1 = _mm512_maskz_loadu_ps(m1, chunk.as_ptr().wrapping_add(16));
            // 32 bf16 in memory order: lane q holds values (2q, 2q + 1), the pair layout.
            let v = _mm512_cvtne2ps_pbh(x1, x0);
            _mm512_storeu_si512(
                tmp.as_mut_ptr().cast(),
                std::mem::transmute::<__m512bh, __m512i>(v),
            );
            for (t, &w) in tmp.iter().enumerate().take(n.div_ceil(2)) {
                dst[(q * 16 + t) * lanes + lane] = w;
            }
        }
    }
}

/// `dst[c] = pair(r0[c], r1[c])` (r1 absent: 0), zero beyond the rows' length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
unsafe fn pack_two_rows(r0: &[f32], r1: Option<&[f32]>, dst: &mut [u32]) {
    // SAFETY: the function's own contract (target features present, bounds as documented).
    unsafe {
        let n = r0.len();
        for h in 0..2 {
            let lo = h * 16;
            let cnt = n.saturating_sub(lo).min(16);
            let m: __mmask16 = if cnt >= 16 { 0xFFFF } else { (1u16 << cnt) - 1 };
            // SAFETY: the mask keeps the loads inside the rows (length n each).
            let x0 = _mm512_maskz_loadu_ps(m, r0.as_ptr().wrapping_add(lo));
            let x1 = match r1 {
                Some(r1) => _mm512_maskz_loadu_ps(m, r1.as_ptr().wrapping_add(lo)),
                None => _mm512_setzero_ps(),
            };
            let b0 = _mm512_cvtepu16_epi32(std::mem::transmute::<__m256bh, __m256i>(
                _mm512_cvtneps_pbh(x0),
            ));
            let b1 = _mm512_cvtepu16_epi32(std::mem::transmute::<__m256bh, __m256i>(
                _mm512_cvtneps_pbh(x1),
            ));
            let v = _mm512_or_si512(b0, _mm512_slli_epi32::<16>(b1));
            _mm512_storeu_si512(dst.as_mut_ptr().add(lo).cast(), v);
        }
    }
}

/// The MR x NR tile `c` (row stride `ldc`; `rows` x `cols` of it are real) = [c +] a · b over
/// `kc` pairs, a packed [p][MR], b packed [p][NR].
///
/// # Safety
/// AVX-512 BF16 present; `a` holds kc * MR lanes, `b` kc * NR, and `c` rows x cols at `ldc`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel(
    kc: usize,
    a: *const u32,
    b: *const u32,
    c: *mut f32,
    ldc: usize,
    rows: usize,
    cols: usize,
    overwrite: bool,
) {
    // SAFETY: the function's own contract (target features present, bounds as documented).
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); 2]; MR];
        for p in 0..kc {
            let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.add(p * NR).cast()));
            let b1: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.add(p * NR + 16).cast()));
            let ap = a.add(p * MR);
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let av: __m512bh = std::mem::transmute(_mm512_set1_epi32(*ap.add(r) as i32));
                acc_r[0] = _mm512_dpbf16_ps(acc_r[0], av, b0);
                acc_r[1] = _mm512_dpbf16_ps(acc_r[1], av, b1);
            }
        }
        let mask = |cnt: usize| -> __mmask16 {
            if cnt >= 16 {
                0xFFFF
            } else {
                (1u16 << cnt) - 1
            }
        };
        let (m0, m1) = (mask(cols), mask(cols.saturating_sub(16)));
        for (r, acc_r) in acc.iter().enumerate().take(rows) {
            let row = c.add(r * ldc);
            let (mut v0, mut v1) = (acc_r[0], acc_r[1]);
            if !overwrite {
                v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, row), v0);
                v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, row.wrapping_add(16)), v1);
            }
            _mm512_mask_storeu_ps(row, m0, v0);
            _mm512_mask_storeu_ps(row.wrapping_add(16), m1, v1);
        }
    }
}

/// The destination, shared by the tasks that write disjoint column blocks of it.
#[derive(Clone, Copy)]
struct DstPtr(*mut f32);
// SAFETY: the tasks write disjoint columns (see `bf16_gemm_into`).
unsafe impl Send for DstPtr {}
unsafe impl Sync for DstPtr {}

/// dst (m x n, contiguous, row stride n) = [dst +] bf16(lhs) (m x k) · bf16(rhs) (k x n), each
/// operand given as (slice, row stride, column stride), summed in fp32. Same contract as
/// `cpu_gemm::gemm_into`; `threads` > 1 splits the columns over rayon's pool.
///
/// # Panics
/// When the processor lacks AVX-512 BF16 (callers check [`is_supported`] first, through
/// `Precision::check_supported`), or the slices are smaller than their strides say.
pub(crate) fn bf16_gemm_into(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize, usize),
    threads: usize,
) {
    assert!(
        is_supported(),
        "bf16 GEMM on a processor without AVX-512 BF16"
    );
    assert!(dst.len() >= m * n, "bf16 gemm: destination too small");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    let last =
        |(_, rs, cs): (&[f32], usize, usize), r: usize, c: usize| (r - 1) * rs + (c - 1) * cs;
    assert!(
        lhs.0.len() > last(lhs, m, k),
        "bf16 gemm: left operand too small"
    );
    assert!(
        rhs.0.len() > last(rhs, k, n),
        "bf16 gemm: right operand too small"
    );
    let a = View {
        data: lhs.0,
        rs: lhs.1,
        cs: lhs.2,
    };
    let b = View {
        data: rhs.0,
        rs: rhs.1,
        cs: rhs.2,
    };
    let kp = k.div_ceil(2);
    let panels = m.div_ceil(MR);
    let mut apack = vec![0u32; panels * kp * MR];
    pack_a(a, m, k, &mut apack);

    // Column blocks: NC wide, or narrower so that every thread gets one.
    let threads = threads.max(1);
    let width = if threads > 1 {
        NC.min(n.div_ceil(threads).div_ceil(NR) * NR).max(NR)
    } else {
        NC
    };
    let blocks: Vec<(usize, usize)> = (0..n)
        .step_by(width)
        .map(|j0| (j0, width.min(n - j0)))
        .collect();
    let out = DstPtr(dst.as_mut_ptr());
    let apack = &apack;
    let run_block = move |(j0, nc): (usize, usize)| {
        let out = out;
        let mut bpack = vec![0u32; KC.min(kp) * nc.div_ceil(NR) * NR];
        for p0 in (0..kp).step_by(KC) {
            let kc = KC.min(kp - p0);
            let bp = &mut bpack[..kc * nc.div_ceil(NR) * NR];
            pack_b(b, k, (p0, kc), (j0, nc), bp);
            for panel in 0..panels {
                let i0 = panel * MR;
                let rows = MR.min(m - i0);
                let ap = &apack[panel * kp * MR + p0 * MR..][..kc * MR];
                for (jp, bpanel) in bp.chunks(kc * NR).enumerate() {
                    let jj = j0 + jp * NR;
                    let cols = NR.min(j0 + nc - jj);
                    // SAFETY: support asserted above; the panels hold kc pairs; the tile
                    // (rows x cols at i0, jj) lies inside dst (m x n), and no other task
                    // writes columns j0..j0 + nc.
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        kernel(
                            kc,
                            ap.as_ptr(),
                            bpanel.as_ptr(),
                            out.0.add(i0 * n + jj),
                            n,
                            rows,
                            cols,
                            p0 == 0 && !accumulate,
                        );
                    }
                }
            }
        }
    };
    if threads > 1 && blocks.len() > 1 {
        blocks.into_par_iter().for_each(run_block);
    } else {
        blocks.into_iter().for_each(run_block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
            })
            .collect()
    }

    /// The exact product of the bf16-rounded operands, summed in f64: what the kernel computes
    /// up to fp32 accumulation.
    fn reference(
        (m, n, k): (usize, usize, usize),
        a: (&[f32], usize, usize),
        b: (&[f32], usize, usize),
    ) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k)
                    .map(|p| {
                        round_to_bf16(a.0[i * a.1 + p * a.2]) as f64
                            * round_to_bf16(b.0[p * b.1 + j * b.2]) as f64
                    })
                    .sum();
            }
        }
        out
    }

    #[test]
    fn rounding_is_nearest_even_and_keeps_nan() {
        // 1 + 2^-8 is halfway between bf16 1.0 and 1 + 2^-7: ties go to the even mantissa.
        assert_eq!(round_to_bf16(1.0 + 1.0 / 256.0), 1.0);
        assert_eq!(round_to_bf16(1.0 + 3.0 / 256.0), 1.0 + 4.0 / 256.0);
        assert_eq!(round_to_bf16(-2.5), -2.5);
        assert!(round_to_bf16(f32::from_bits(0x7FFF_FFFF)).is_nan());
        assert_eq!(round_to_bf16(f32::INFINITY), f32::INFINITY);
    }

    #[test]
    fn every_layout_and_edge_matches_the_rounded_product() {
        if !is_supported() {
            eprintln!("skipped: this processor has no AVX-512 BF16");
            return;
        }
        // Sizes off the tile and block edges (MR 8, NR 32, KC 256 pairs, NC 256), odd k, and
        // the four layouts the convolution and linear kernels use.
        for &(m, n, k) in &[
            (1, 1, 1),
            (8, 32, 2),
            (9, 33, 3),
            (17, 70, 515),
            (64, 300, 1030),
            (3, 600, 40),
        ] {
            for (a_t, b_t) in [(false, false), (false, true), (true, false), (true, true)] {
                let a = values(m * k, 1);
                let b = values(k * n, 2);
                let a_s = if a_t { (1, m) } else { (k, 1) };
                let b_s = if b_t { (1, k) } else { (n, 1) };
                let expected = reference((m, n, k), (&a, a_s.0, a_s.1), (&b, b_s.0, b_s.1));
                for (threads, accumulate) in [(1, false), (2, false), (3, true)] {
                    let start = values(m * n, 3);
                    let mut dst = if accumulate {
                        start.clone()
                    } else {
                        vec![f32::NAN; m * n]
                    };
                    bf16_gemm_into(
                        (m, n, k),
                        &mut dst,
                        accumulate,
                        (&a, a_s.0, a_s.1),
                        (&b, b_s.0, b_s.1),
                        threads,
                    );
                    for (idx, (&got, &want)) in dst.iter().zip(&expected).enumerate() {
                        let want = want + if accumulate { start[idx] as f64 } else { 0.0 };
                        // fp32 accumulation of k products of size <= 1.
                        let tol = 1e-6 * (k as f64).max(1.0) + 1e-6 * want.abs();
                        assert!(
                            (got as f64 - want).abs() <= tol,
                            "({m},{n},{k}) a_t {a_t} b_t {b_t} threads {threads}: \
                             element {idx} {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_result_does_not_depend_on_the_thread_count() {
        if !is_supported() {
            eprintln!("skipped: this processor has no AVX-512 BF16");
            return;
        }
        let (m, n, k) = (40, 1000, 1500);
        let a = values(m * k, 4);
        let b = values(k * n, 5);
        let run = |threads| {
            let mut dst = vec![0.0f32; m * n];
            bf16_gemm_into((m, n, k), &mut dst, false, (&a, k, 1), (&b, n, 1), threads);
            dst
        };
        let one = run(1);
        for t in [2, 3, 8] {
            assert!(one
                .iter()
                .zip(run(t))
                .all(|(x, y)| x.to_bits() == y.to_bits()));
        }
    }
}
