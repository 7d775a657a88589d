//! An attention map applied to a feature map: y = x ⊙ a with a per channel (B, C, 1, 1), as
//! CCAM's eqs. 7-8 (paper 3.2), SE-Net and CBAM's channel half, or per pixel (B, 1, H, W), as
//! SCAM's eqs. 12-13 (paper 3.3), CBAM's spatial half and DAM-CNN's salient regions.
//!
//! Why an op of its own: candle's `broadcast_mul` backward multiplies the incoming gradient by
//! x into a new full-size tensor, then sums it over the broadcast axes in a second pass, and
//! each of those nodes gets a zero-filled gradient buffer of its own. Here the backward is one
//! pass per image: dx = dy ⊙ a and da = Σ dy ⊙ x over the broadcast axes, summed in an order
//! fixed by the shape (`lane_sum`'s partial sums over the pixels of a channel map, channels in
//! order for a pixel map), so that the result does not depend on the number of threads. Off the CPU, or for other shapes, it is
//! candle's `broadcast_mul`.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use crate::ops::cpu_slice::{contiguous_slice, float_kernel};
use crate::ops::lane_sum::row_dot;

/// Which axes the map spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    /// a (B, C, 1, 1): one factor per channel.
    Channels,
    /// a (B, 1, H, W): one factor per pixel, shared by the channels.
    Pixels,
}

/// x (B, C, H, W) ⊙ a, with a (B, C, 1, 1) or (B, 1, H, W).
pub fn broadcast_scale(x: &Tensor, a: &Tensor) -> candle_core::Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    let span = if a.dims() == [b, c, 1, 1] {
        Span::Channels
    } else if a.dims() == [b, 1, h, w] {
        Span::Pixels
    } else {
        return x.broadcast_mul(a);
    };
    let fused = x.device().is_cpu()
        && a.device().is_cpu()
        && x.dtype() == a.dtype()
        && matches!(x.dtype(), DType::F32 | DType::F64);
    if !fused {
        return x.broadcast_mul(a);
    }
    x.contiguous()?
        .apply_op2(&a.contiguous()?, BroadcastScale { span })
}

impl Span {
    /// Entries of the map per image: C for a channel map, H·W for a pixel map.
    fn factors_per_image(self, c: usize, hw: usize) -> usize {
        match self {
            Span::Channels => c,
            Span::Pixels => hw,
        }
    }
}

/// Length of the backward's flat [dx (when wanted) | da].
fn backward_len((b, c, hw): (usize, usize, usize), span: Span, need_dx: bool) -> usize {
    let nx = if need_dx { b * c * hw } else { 0 };
    nx + b * span.factors_per_image(c, hw)
}

/// The forward op on (x, a).
#[derive(Debug, Clone, Copy)]
struct BroadcastScale {
    span: Span,
}

/// (B, C, H·W) of x.
fn dims(x: &Layout) -> candle_core::Result<(usize, usize, usize)> {
    let (b, c, h, w) = x.shape().dims4()?;
    Ok((b, c, h * w))
}

fn forward<T: WithDType>(
    x: &[T],
    a: &[T],
    (b, c, hw): (usize, usize, usize),
    span: Span,
) -> Vec<T> {
    let mut y = vec![T::zero(); b * c * hw];
    y.par_chunks_mut(c * hw).enumerate().for_each(|(i, yi)| {
        let xi = &x[i * c * hw..(i + 1) * c * hw];
        for (ch, (yc, xc)) in yi.chunks_mut(hw).zip(xi.chunks(hw)).enumerate() {
            match span {
                Span::Channels => {
                    let f = a[i * c + ch];
                    yc.iter_mut().zip(xc).for_each(|(y, &x)| *y = x * f);
                }
                Span::Pixels => {
                    let m = &a[i * hw..(i + 1) * hw];
                    yc.iter_mut()
                        .zip(xc)
                        .zip(m)
                        .for_each(|((y, &x), &f)| *y = x * f);
                }
            }
        }
    });
    y
}

/// [dx (when wanted) | da], image by image.
fn backward<T: WithDType>(
    x: &[T],
    a: &[T],
    dy: &[T],
    (b, c, hw): (usize, usize, usize),
    span: Span,
    need_dx: bool,
) -> Vec<T> {
    let per_a = span.factors_per_image(c, hw);
    let nx = if need_dx { b * c * hw } else { 0 };
    let mut out = vec![T::zero(); backward_len((b, c, hw), span, need_dx)];
    let (dx, da) = out.split_at_mut(nx);
    let dx_chunks: Vec<&mut [T]> = if need_dx {
        dx.chunks_mut(c * hw).collect()
    } else {
        (0..b).map(|_| &mut [][..]).collect()
    };
    dx_chunks
        .into_par_iter()
        .zip(da.par_chunks_mut(per_a))
        .enumerate()
        .for_each(|(i, (dxi, dai))| {
            let xi = &x[i * c * hw..(i + 1) * c * hw];
            let dyi = &dy[i * c * hw..(i + 1) * c * hw];
            for ch in 0..c {
                let (xc, dyc) = (&xi[ch * hw..(ch + 1) * hw], &dyi[ch * hw..(ch + 1) * hw]);
                match span {
                    Span::Channels => {
                        dai[ch] = T::from_f64(row_dot(dyc, xc));
                    }
                    Span::Pixels => {
                        dai.iter_mut()
                            .zip(xc.iter().zip(dyc))
                            .for_each(|(d, (&x, &g))| *d += g * x);
                    }
                }
                if need_dx {
                    let dxc = &mut dxi[ch * hw..(ch + 1) * hw];
                    match span {
                        Span::Channels => {
                            let f = a[i * c + ch];
                            dxc.iter_mut().zip(dyc).for_each(|(d, &g)| *d = g * f);
                        }
                        Span::Pixels => {
                            let m = &a[i * hw..(i + 1) * hw];
                            dxc.iter_mut()
                                .zip(dyc)
                                .zip(m)
                                .for_each(|((d, &g), &f)| *d = g * f);
                        }
                    }
                }
            }
        });
    out
}

impl CustomOp2 for BroadcastScale {
    fn name(&self) -> &'static str {
        "fer-broadcast-scale"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = dims(l1)?;
        let out = float_kernel!(s1.dtype(), "broadcast scale", T => forward(
            contiguous_slice::<T>(s1, l1)?,
            contiguous_slice::<T>(s2, l2)?,
            d,
            self.span,
        ));
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        a: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let need_dx = x.track_op();
        let flat = x.apply_op3_no_bwd(
            a,
            &grad.contiguous()?,
            &BroadcastScaleBackward {
                span: self.span,
                need_dx,
            },
        )?;
        let nx = if need_dx { x.elem_count() } else { 0 };
        let dx = if need_dx {
            Some(flat.narrow(0, 0, nx)?.reshape(x.shape())?)
        } else {
            None
        };
        let da = flat.narrow(0, nx, a.elem_count())?.reshape(a.shape())?;
        Ok((dx, Some(da)))
    }
}

/// The backward kernel, as an op on (x, a, dy) returning [dx | da] flat.
struct BroadcastScaleBackward {
    span: Span,
    need_dx: bool,
}

impl CustomOp3 for BroadcastScaleBackward {
    fn name(&self) -> &'static str {
        "fer-broadcast-scale-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = dims(l1)?;
        if l3.shape() != l1.shape() {
            candle_core::bail!(
                "broadcast scale backward: gradient of shape {:?} for x of shape {:?}",
                l3.dims(),
                l1.dims()
            );
        }
        let out = float_kernel!(s1.dtype(), "broadcast scale backward", T => backward(
            contiguous_slice::<T>(s1, l1)?,
            contiguous_slice::<T>(s2, l2)?,
            contiguous_slice::<T>(s3, l3)?,
            d,
            self.span,
            self.need_dx,
        ));
        Ok((out, Shape::from(backward_len(d, self.span, self.need_dx))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_tensors::{max_abs, max_abs_diff, sine_tensor};
    use candle_core::{Device, Var};

    /// Values and gradients of x and a against candle's broadcast_mul, for a channel map and a
    /// pixel map, in f64 (exact up to summation order) and f32.
    #[test]
    fn matches_candles_broadcast_mul() {
        for (a_shape, dtype, tol) in [
            ((3, 5, 1, 1), DType::F64, 1e-13),
            ((3, 1, 4, 6), DType::F64, 1e-13),
            ((3, 5, 1, 1), DType::F32, 1e-5),
            ((3, 1, 4, 6), DType::F32, 1e-5),
        ] {
            let x =
                Var::from_tensor(&sine_tensor((3, 5, 4, 6), 0.3).to_dtype(dtype).unwrap()).unwrap();
            let a = Var::from_tensor(&sine_tensor(a_shape, 1.7).to_dtype(dtype).unwrap()).unwrap();
            let r = sine_tensor((3, 5, 4, 6), 2.9).to_dtype(dtype).unwrap();
            let ours = broadcast_scale(x.as_tensor(), a.as_tensor()).unwrap();
            let theirs = x.as_tensor().broadcast_mul(a.as_tensor()).unwrap();
            let diff = max_abs_diff;
            assert_eq!(diff(&ours, &theirs), 0.0, "{a_shape:?}: values");
            let g1 = (&ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let g2 = (&theirs * &r)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            for (v, what) in [(&x, "dx"), (&a, "da")] {
                let (p, q) = (
                    g1.get(v.as_tensor()).unwrap(),
                    g2.get(v.as_tensor()).unwrap(),
                );
                assert!(
                    diff(p, q) < tol,
                    "{a_shape:?} {dtype:?} {what}: {}",
                    diff(p, q)
                );
            }
        }
    }

    /// A map that needs no gradient for x (x a plain tensor) gives only da; a map of another
    /// shape falls back to broadcast_mul.
    #[test]
    fn without_dx_and_other_shapes() {
        let x = sine_tensor((2, 3, 2, 2), 0.1);
        let a = Var::from_tensor(&sine_tensor((2, 3, 1, 1), 0.2)).unwrap();
        let g = broadcast_scale(&x, a.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert!(g.get(&x).is_none());
        let want = x.sum_keepdim((2, 3)).unwrap();
        let got = g.get(a.as_tensor()).unwrap();
        assert!(max_abs(&(got - want).unwrap()) < 1e-14);
        let per_row = Tensor::ones((1, 1, 2, 1), DType::F64, &Device::Cpu).unwrap();
        let y = broadcast_scale(&x, &(per_row * 2.0).unwrap()).unwrap();
        assert!(max_abs(&(y - (&x * 2.0).unwrap()).unwrap()) < 1e-15);
    }
}
