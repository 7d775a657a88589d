//! The CPU kernel of a fully connected layer's forward on a small batch: y = [y +] x Wᵀ with
//! x (m x k), W (n x k) in the layer's own row-major layout and m at most `MAX_ROWS`, in f32
//! with AVX-512. It serves the heads of paper 3.1 (36,864 -> 2,000 for FER, 36,864 -> 2,048
//! for FLD at 100 px), where a batch of 32 meets a 295 MB weight.
//!
//! Why: the gemm crate packs its operands into panels before multiplying. With a batch of 32
//! the panel it packs is the whole weight, read across its rows (a transpose), on every call:
//! measured on the 2-core development machine, 168 ms for 32 x 36,864 x 2,000, against 46-48 ms
//! for PyTorch's F.linear with 2 threads (oneDNN). This kernel reads both operands in place as
//! dot products along k: 47-48 ms in the same measurement.
//!
//! Layout of the work: the weight's rows are split into tasks of `W_ROWS_PER_TASK` for rayon;
//! within a task, k is cut into tiles of `K_TILE` so that the batch's tile (32 x 2,048 floats,
//! 256 KB) stays in the core's L2 cache; a register tile holds `ROWS` x `COLS` accumulators of
//! 16 lanes (24 of the 32 zmm registers), reduced horizontally at the end of each k tile. The
//! order of every sum is fixed by the shape alone, so results do not depend on the number of
//! threads.

/// Batches (rows of x) up to this size take the kernel; above it the gemm crate's packing is
/// amortised over enough rows.
pub(crate) const MAX_ROWS: usize = 64;

/// Element types of the linear kernels: f32 may take the small-batch kernel, f64 (used by the
/// gradient tests) always takes the gemm crate.
pub(crate) trait SmallBatchGemm: Sized {
    /// y (m x n) = [y +] x (m x k) · Wᵀ with W (n x k), all contiguous. Returns false, with y
    /// untouched, when the kernel does not apply (batch too large, no AVX-512, empty shape).
    fn small_batch_gemm(
        _x: &[Self],
        _w: &[Self],
        _y: &mut [Self],
        _mkn: (usize, usize, usize),
        _accumulate: bool,
    ) -> bool {
        false
    }
}

impl SmallBatchGemm for f64 {}

impl SmallBatchGemm for f32 {
    fn small_batch_gemm(
        x: &[f32],
        w: &[f32],
        y: &mut [f32],
        (m, k, n): (usize, usize, usize),
        accumulate: bool,
    ) -> bool {
        if m == 0 || m > MAX_ROWS || k == 0 || n == 0 {
            return false;
        }
        assert!(
            x.len() >= m * k && w.len() >= n * k && y.len() >= m * n,
            "small-batch gemm: operands smaller than {m} x {k} x {n}"
        );
        #[cfg(target_arch = "x86_64")]
        {
            if avx512_available() {
                avx512::run(x, w, y, (m, k, n), accumulate);
                return true;
            }
        }
        false
    }
}

/// Whether this CPU is x86-64-v4 (detected at run time; the build targets plain x86-64). The
/// kernel needs only AVX-512F, but it follows the level that runs record (`CpuIsa`), so that
/// a record's level names the path its heads took.
fn avx512_available() -> bool {
    crate::ops::cpu_isa::CpuIsa::detect() == crate::ops::cpu_isa::CpuIsa::X86_64V4
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use rayon::prelude::*;
    use std::arch::x86_64::*;

    /// Batch rows per register tile.
    const ROWS: usize = 4;
    /// Weight rows per register tile.
    const COLS: usize = 6;
    const LANES: usize = 16;
    /// k per cache tile (see the module comment); 1,024-4,096 measured alike, 512 was 25 %
    /// slower.
    const K_TILE: usize = 2048;
    /// Weight rows per rayon task; 16 and 128 measured 5-15 % slower than 48.
    const W_ROWS_PER_TASK: usize = 48;

    /// Caller checked that AVX-512F is available and the slice sizes.
    pub(super) fn run(
        x: &[f32],
        w: &[f32],
        y: &mut [f32],
        (m, k, n): (usize, usize, usize),
        accumulate: bool,
    ) {
        // x copied with its rows padded to a multiple of ROWS and its length to a multiple of
        // 16 with zeros, so that the register tile never needs a row edge case and reads past
        // k only zeros (4.7 MB for the heads, about 1 ms).
        let kp = k.div_ceil(LANES) * LANES;
        let mp = m.div_ceil(ROWS) * ROWS;
        let mut xp = vec![0f32; mp * kp];
        for (dst, src) in xp.chunks_mut(kp).zip(x.chunks(k).take(m)) {
            dst[..k].copy_from_slice(src);
        }
        // Results transposed (n x mp), so that each task owns a contiguous block of rows.
        let mut yt = vec![0f32; n * mp];
        yt.par_chunks_mut(W_ROWS_PER_TASK * mp)
            .enumerate()
            .for_each(|(task, out)| {
                let first = task * W_ROWS_PER_TASK;
                let rows = out.len() / mp;
                // SAFETY: AVX-512F was detected by the caller; `task_rows` reads `rows` weight
                // rows of length k and the padded x of mp x kp, and writes `out` (rows x mp).
                unsafe { task_rows(&xp, (mp, kp), &w[first * k..(first + rows) * k], k, out) }
            });
        for (i, row) in y.chunks_mut(n).take(m).enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let s = yt[j * mp + i];
                *v = if accumulate { *v + s } else { s };
            }
        }
    }

    /// out (rows x mp) = w (rows x k) · xpᵀ, tile by tile.
    #[target_feature(enable = "avx512f")]
    unsafe fn task_rows(
        xp: &[f32],
        (mp, kp): (usize, usize),
        w: &[f32],
        k: usize,
        out: &mut [f32],
    ) {
        let rows = w.len() / k;
        let mut k0 = 0;
        while k0 < k {
            let kc = K_TILE.min(k - k0);
            let mut j = 0;
            while j < rows {
                let c = COLS.min(rows - j);
                for r0 in (0..mp).step_by(ROWS) {
                    // SAFETY: r0 + ROWS <= mp rows of xp from column k0 (+ kc <= kp); c rows of
                    // w from row j (j + c <= rows) and column k0 (+ kc <= k); out rows j..j+c,
                    // columns r0..r0+ROWS.
                    unsafe {
                        let t = Tile {
                            x: xp.as_ptr().add(r0 * kp + k0),
                            x_stride: kp,
                            w: w.as_ptr().add(j * k + k0),
                            w_stride: k,
                            len: kc,
                            out: out.as_mut_ptr().add(j * mp + r0),
                            out_stride: mp,
                        };
                        match c {
                            6 => t.accumulate::<6>(),
                            5 => t.accumulate::<5>(),
                            4 => t.accumulate::<4>(),
                            3 => t.accumulate::<3>(),
                            2 => t.accumulate::<2>(),
                            _ => t.accumulate::<1>(),
                        }
                    }
                }
                j += c;
            }
            k0 += kc;
        }
    }

    /// One register tile: ROWS rows of x against C rows of w over `len` elements, added to
    /// out[c * out_stride + r].
    struct Tile {
        x: *const f32,
        x_stride: usize,
        w: *const f32,
        w_stride: usize,
        len: usize,
        out: *mut f32,
        out_stride: usize,
    }

    impl Tile {
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn accumulate<const C: usize>(&self) {
            let mut acc = [[_mm512_setzero_ps(); C]; ROWS];
            let full = self.len / LANES;
            for v in 0..full {
                // SAFETY: inside the rows, see the caller.
                unsafe { self.step(&mut acc, v * LANES, 0xffff) };
            }
            let rem = self.len % LANES;
            if rem > 0 {
                // The last, partial vector reads through a mask: w's rows end at k.
                // SAFETY: lanes outside the mask are not read.
                unsafe { self.step(&mut acc, full * LANES, ((1u32 << rem) - 1) as __mmask16) };
            }
            for (r, acc_r) in acc.iter().enumerate() {
                for (c, a) in acc_r.iter().enumerate() {
                    // SAFETY: inside out, see the caller.
                    unsafe { *self.out.add(c * self.out_stride + r) += _mm512_reduce_add_ps(*a) };
                }
            }
        }

        /// acc += x[.., o..o+16] ⊗ w[.., o..o+16], lanes outside `mask` read as zero.
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn step<const C: usize>(
            &self,
            acc: &mut [[__m512; C]; ROWS],
            o: usize,
            mask: __mmask16,
        ) {
            let mut wv = [_mm512_setzero_ps(); C];
            for (c, wc) in wv.iter_mut().enumerate() {
                // SAFETY: the caller keeps o + lanes in mask inside row c of w.
                *wc = unsafe { _mm512_maskz_loadu_ps(mask, self.w.add(c * self.w_stride + o)) };
            }
            for (r, acc_r) in acc.iter_mut().enumerate() {
                // SAFETY: as above, inside the padded row r of x.
                let xv = unsafe { _mm512_maskz_loadu_ps(mask, self.x.add(r * self.x_stride + o)) };
                for (a, wc) in acc_r.iter_mut().zip(&wv) {
                    *a = _mm512_fmadd_ps(xv, *wc, *a);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: f64) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as f64 * 0.377 + seed).sin()) as f32)
            .collect()
    }

    /// Against a plain f64 triple loop, over shapes that cross every edge: batch rows not a
    /// multiple of the register tile, k shorter than a vector, not a multiple of 16 and
    /// spanning two k tiles, weight rows not a multiple of the register tile and spanning two
    /// tasks; with and without accumulation.
    #[test]
    fn matches_a_plain_loop() {
        let avx512 = avx512_available();
        for &(m, k, n) in &[
            (1, 1, 1),
            (3, 15, 5),
            (4, 16, 6),
            (5, 17, 7),
            (32, 2049, 49),
            (7, 4100, 97),
            (64, 33, 13),
        ] {
            for accumulate in [false, true] {
                let x = values(m * k, 0.3);
                let w = values(n * k, 1.7);
                let start = values(m * n, 2.9);
                let mut y = start.clone();
                let ran = f32::small_batch_gemm(&x, &w, &mut y, (m, k, n), accumulate);
                assert_eq!(ran, avx512, "kernel taken iff AVX-512F is present");
                if !ran {
                    assert_eq!(y, start, "y untouched when the kernel does not apply");
                    continue;
                }
                for i in 0..m {
                    for j in 0..n {
                        let dot: f64 = (0..k)
                            .map(|t| x[i * k + t] as f64 * w[j * k + t] as f64)
                            .sum();
                        let want = dot
                            + if accumulate {
                                start[i * n + j] as f64
                            } else {
                                0.0
                            };
                        let got = y[i * n + j] as f64;
                        assert!(
                            (got - want).abs() <= 1e-5 * (1.0 + (k as f64).sqrt()),
                            "{m}x{k}x{n} acc {accumulate}: y[{i},{j}] = {got}, expected {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn declines_large_batches_and_f64() {
        let (m, k, n) = (MAX_ROWS + 1, 3, 2);
        let mut y = vec![0f32; m * n];
        assert!(!f32::small_batch_gemm(
            &vec![1.0; m * k],
            &[1.0; 6],
            &mut y,
            (m, k, n),
            false
        ));
        let mut y64 = vec![0f64; 2];
        assert!(!f64::small_batch_gemm(
            &[1.0; 3],
            &[1.0; 6],
            &mut y64,
            (1, 3, 2),
            false
        ));
    }
}
