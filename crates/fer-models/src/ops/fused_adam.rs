//! The CPU kernel of Adam's update (Kingma & Ba 2015; the paper trains with Adam, 4.4), written
//! as three in-place passes instead of about twenty tensor operations.
//!
//! Why: candle's tensor arithmetic allocates a new buffer for every intermediate (g + λp, the
//! two moment updates, the square root, the division, ...) and runs each pass on one core. For
//! BaseDCNN-FER's 75 M parameters that was 0.4-0.5 s per step, as long as PyTorch's whole
//! optimiser step; these passes write the moments and the parameters where they are, split
//! over the cores. The arithmetic is PyTorch's `Adam(weight_decay=λ)` in the parameter's own
//! precision:
//!
//! g' = g + λp;  m ← β1 m + (1 - β1) g';  v ← β2 v + (1 - β2) g'²;
//! p ← p - (lr / (1 - β1ᵗ)) m / (√v / √(1 - β2ᵗ) + eps)

use candle_core::{CpuStorage, InplaceOp2, InplaceOp3, Layout, Tensor};
use rayon::prelude::*;
use std::sync::Mutex;

/// Elements per parallel task: large enough that scheduling is negligible, small enough to
/// split a 1000-element bias between the cores too.
const CHUNK: usize = 1 << 14;

/// Which of the three updates a pass performs.
#[derive(Debug, Clone, Copy)]
enum Pass {
    /// m ← β1 m + (1 - β1) (g + λp); inputs g, p.
    FirstMoment { beta1: f64, weight_decay: f64 },
    /// v ← β2 v + (1 - β2) (g + λp)²; inputs g, p.
    SecondMoment { beta2: f64, weight_decay: f64 },
    /// p ← p - step_size m / (√v / √bias2 + eps); inputs m, v.
    Parameter {
        step_size: f64,
        sqrt_bias2: f64,
        eps: f64,
    },
}

/// Adam's constants for one step.
#[derive(Debug, Clone, Copy)]
pub struct AdamStepConstants {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// lr / (1 - β1ᵗ).
    pub step_size: f64,
    /// 1 - β2ᵗ.
    pub bias2: f64,
}

/// Updates `m`, `v` and `p` in place from the gradient `g` (all CPU, same shape, f32 or f64,
/// contiguous; `g` is made contiguous here).
pub fn fused_adam_update(
    p: &Tensor,
    g: &Tensor,
    m: &Tensor,
    v: &Tensor,
    c: &AdamStepConstants,
) -> candle_core::Result<()> {
    let g = g.contiguous()?;
    m.inplace_op3(
        &g,
        p,
        &Pass::FirstMoment {
            beta1: c.beta1,
            weight_decay: c.weight_decay,
        },
    )?;
    v.inplace_op3(
        &g,
        p,
        &Pass::SecondMoment {
            beta2: c.beta2,
            weight_decay: c.weight_decay,
        },
    )?;
    p.inplace_op3(
        m,
        v,
        &Pass::Parameter {
            step_size: c.step_size,
            sqrt_bias2: c.bias2.sqrt(),
            eps: c.eps,
        },
    )
}

/// The contiguous range of a layout, or an error naming the op.
fn range(l: &Layout) -> candle_core::Result<(usize, usize)> {
    l.contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg("fused Adam: tensor is not contiguous".into()))
}

macro_rules! run_pass {
    ($t:ty, $pass:expr, $dst:expr, $a:expr, $b:expr) => {{
        let (dst, a, b): (&mut [$t], &[$t], &[$t]) = ($dst, $a, $b);
        if dst.len() != a.len() || dst.len() != b.len() {
            candle_core::bail!("fused Adam: tensors of different sizes");
        }
        match $pass {
            Pass::FirstMoment {
                beta1,
                weight_decay,
            } => {
                let (b1, wd) = (beta1 as $t, weight_decay as $t);
                dst.par_chunks_mut(CHUNK)
                    .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
                    .for_each(|(m, (g, p))| {
                        for ((m, &g), &p) in m.iter_mut().zip(g).zip(p) {
                            let g = g + wd * p;
                            *m = b1 * *m + (1.0 - b1) * g;
                        }
                    });
            }
            Pass::SecondMoment {
                beta2,
                weight_decay,
            } => {
                let (b2, wd) = (beta2 as $t, weight_decay as $t);
                dst.par_chunks_mut(CHUNK)
                    .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
                    .for_each(|(v, (g, p))| {
                        for ((v, &g), &p) in v.iter_mut().zip(g).zip(p) {
                            let g = g + wd * p;
                            *v = b2 * *v + (1.0 - b2) * g * g;
                        }
                    });
            }
            Pass::Parameter {
                step_size,
                sqrt_bias2,
                eps,
            } => {
                let (s, sb2, eps) = (step_size as $t, sqrt_bias2 as $t, eps as $t);
                dst.par_chunks_mut(CHUNK)
                    .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
                    .for_each(|(p, (m, v))| {
                        for ((p, &m), &v) in p.iter_mut().zip(m).zip(v) {
                            *p -= s * m / (v.sqrt() / sb2 + eps);
                        }
                    });
            }
        }
        Ok(())
    }};
}

impl InplaceOp3 for Pass {
    fn name(&self) -> &'static str {
        "fused-adam"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<()> {
        let (d0, d1) = range(l1)?;
        let (a0, a1) = range(l2)?;
        let (b0, b1) = range(l3)?;
        match (s1, s2, s3) {
            (CpuStorage::F32(d), CpuStorage::F32(a), CpuStorage::F32(b)) => {
                run_pass!(f32, *self, &mut d[d0..d1], &a[a0..a1], &b[b0..b1])
            }
            (CpuStorage::F64(d), CpuStorage::F64(a), CpuStorage::F64(b)) => {
                run_pass!(f64, *self, &mut d[d0..d1], &a[a0..a1], &b[b0..b1])
            }
            _ => candle_core::bail!("fused Adam: f32 or f64 tensors of one dtype expected"),
        }
    }
}

/// The whole update in one pass over f32 parameters whose moments live in host buffers the
/// optimiser owns: each element is read and written once (p, m and v read and written, g
/// read: 7 streams), where the three tensor passes above move 12. The arithmetic is the same,
/// operation for operation, so both give the same bits.
pub fn fused_adam_update_host(
    p: &Tensor,
    g: &Tensor,
    m: &mut [f32],
    v: &mut [f32],
    c: &AdamStepConstants,
) -> candle_core::Result<()> {
    let g = g.contiguous()?;
    let op = HostAdam {
        m: Mutex::new(m),
        v: Mutex::new(v),
        beta1: c.beta1,
        beta2: c.beta2,
        weight_decay: c.weight_decay,
        step_size: c.step_size,
        sqrt_bias2: c.bias2.sqrt(),
        eps: c.eps,
    };
    p.inplace_op2(&g, &op)
}

/// The one-pass update; the moments are borrowed for the call (locked once each).
struct HostAdam<'a> {
    m: Mutex<&'a mut [f32]>,
    v: Mutex<&'a mut [f32]>,
    beta1: f64,
    beta2: f64,
    weight_decay: f64,
    step_size: f64,
    sqrt_bias2: f64,
    eps: f64,
}

impl InplaceOp2 for HostAdam<'_> {
    fn name(&self) -> &'static str {
        "fused-adam-host"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let (d0, d1) = range(l1)?;
        let (g0, g1) = range(l2)?;
        let (CpuStorage::F32(p), CpuStorage::F32(g)) = (s1, s2) else {
            candle_core::bail!("fused Adam (host moments): f32 tensors expected");
        };
        let (p, g) = (&mut p[d0..d1], &g[g0..g1]);
        let mut m = self
            .m
            .lock()
            .map_err(|_| candle_core::Error::Msg("fused Adam: moment lock poisoned".into()))?;
        let mut v = self
            .v
            .lock()
            .map_err(|_| candle_core::Error::Msg("fused Adam: moment lock poisoned".into()))?;
        if p.len() != g.len() || p.len() != m.len() || p.len() != v.len() {
            candle_core::bail!("fused Adam: tensors of different sizes");
        }
        // The same constants and operations as the three passes of `Pass`.
        let (b1, b2, wd) = (
            self.beta1 as f32,
            self.beta2 as f32,
            self.weight_decay as f32,
        );
        let (s, sb2, eps) = (
            self.step_size as f32,
            self.sqrt_bias2 as f32,
            self.eps as f32,
        );
        p.par_chunks_mut(CHUNK)
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .zip(g.par_chunks(CHUNK))
            .for_each(|(((p, m), v), g)| {
                for (((p, m), v), &g) in p.iter_mut().zip(m).zip(v).zip(g) {
                    let grad = g + wd * *p;
                    *m = b1 * *m + (1.0 - b1) * grad;
                    *v = b2 * *v + (1.0 - b2) * grad * grad;
                    *p -= s * *m / (v.sqrt() / sb2 + eps);
                }
            });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn values(n: usize, scale: f64, shift: f64) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f64 * scale + shift).sin() * 0.5) as f32)
            .collect()
    }

    /// The one-pass kernel with host moments gives the three tensor passes' bits, element for
    /// element, over several steps (the committed run records depend on it).
    #[test]
    fn the_one_pass_update_equals_the_three_passes_bit_for_bit() {
        let dev = Device::Cpu;
        // More than one parallel chunk, and a ragged last one.
        let n = 3 * CHUNK + 123;
        let p0 = values(n, 0.37, 0.0);
        let a = Tensor::from_slice(&p0, n, &dev).unwrap();
        let b = Tensor::from_slice(&p0, n, &dev).unwrap();
        let m = Tensor::zeros(n, candle_core::DType::F32, &dev).unwrap();
        let v = Tensor::zeros(n, candle_core::DType::F32, &dev).unwrap();
        let (mut hm, mut hv) = (vec![0f32; n], vec![0f32; n]);
        for step in 1..=4 {
            let g = Tensor::from_slice(&values(n, 0.11, step as f64), n, &dev).unwrap();
            let c = AdamStepConstants {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.005,
                step_size: 0.01 / (1.0 - 0.9f64.powi(step)),
                bias2: 1.0 - 0.999f64.powi(step),
            };
            fused_adam_update(&a, &g, &m, &v, &c).unwrap();
            fused_adam_update_host(&b, &g, &mut hm, &mut hv, &c).unwrap();
        }
        let bits = |t: &Tensor| -> Vec<u32> {
            t.to_vec1::<f32>()
                .unwrap()
                .iter()
                .map(|x| x.to_bits())
                .collect()
        };
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(bits(&m), hm.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        assert_eq!(bits(&v), hv.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        // The update moved the weights.
        assert_ne!(bits(&a), p0.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        // Moments of the wrong length are refused.
        let mut short = vec![0f32; 3];
        let c = AdamStepConstants {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            step_size: 0.1,
            bias2: 0.001,
        };
        let g = Tensor::zeros(n, candle_core::DType::F32, &dev).unwrap();
        assert!(fused_adam_update_host(&b, &g, &mut short.clone(), &mut short, &c).is_err());
    }
}
