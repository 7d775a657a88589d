//! The channel pooling of SCAM (paper 3.3, eqs. 9-10): the max and the mean over channels of
//! the concatenation [first; second] of two feature maps, as a (B, 2, H, W) map for the 7x7
//! convolution. CMCNN pools [L_in; E_in] (eqs. 9-10, Fig. 1).
//!
//! Why an op of its own: written with candle's tensor ops this is a concatenation (a copy of
//! both maps) and two reductions over a non-last axis, which candle runs as strided loops.
//! Measured on the 2-core development machine at unit 0 of CMCNN (2 x 32 x 64 x 50 x 50): cat
//! 4.8 ms, max 9.9 ms, mean 34 ms, against 2.4-4.3 ms per reduction in PyTorch; summed over
//! the six Co-ATT units about 110 ms of a 1.1 s inference pass. Here one pass reads each map
//! once, row by contiguous row.
//!
//! Gradient: the mean's to every channel (1/C each); the max's to the first maximal channel
//! in [first; second] order, as PyTorch's `torch.max(x, dim=1)` (the reference code's SCAM)
//! and our `max_pool`. Ties are common here: the inputs come after a ReLU, so a pixel where
//! every channel is 0 ties them all. Off the CPU the pooling is written with candle's tensor
//! ops, whose max gradient goes to every tied channel.

use candle_core::backend::BackendStorage;
use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor, WithDType,
};
use rayon::prelude::*;

use crate::ops::cpu_slice::{contiguous_slice, float_kernel};

/// Which of the two pooled maps comes first along the output's channel axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PooledOrder {
    /// [max; mean]: the paper's eq. 11 and our default SCAM.
    MaxThenMean,
    /// [mean; max]: the reference code's 3x3 SCAM with batch norm.
    MeanThenMax,
}

impl PooledOrder {
    /// Output channels of (max, mean).
    fn channels(self) -> (usize, usize) {
        match self {
            Self::MaxThenMean => (0, 1),
            Self::MeanThenMax => (1, 0),
        }
    }
}

/// Max and mean over the channels of [first; second], or of `first` alone.
///
/// # Shapes
/// first (B, C1, H, W), second (B, C2, H, W) -> (B, 2, H, W).
pub fn channel_max_mean(
    first: &Tensor,
    second: Option<&Tensor>,
    order: PooledOrder,
) -> candle_core::Result<Tensor> {
    let (b1, _, h1, w1) = first.dims4()?;
    if let Some(second) = second {
        let (b2, _, h2, w2) = second.dims4()?;
        if (b1, h1, w1) != (b2, h2, w2) || second.dtype() != first.dtype() {
            candle_core::bail!(
                "channel pooling: maps of shapes {:?} and {:?} ({:?}, {:?}) differ outside the channel axis",
                first.dims(),
                second.dims(),
                first.dtype(),
                second.dtype()
            );
        }
    }
    let op = ChannelPool { order };
    if first.device().is_cpu() && matches!(first.dtype(), DType::F32 | DType::F64) {
        let first = first.contiguous()?;
        match second {
            Some(second) => first.apply_op2(&second.contiguous()?, op),
            None => first.apply_op1(op),
        }
    } else {
        let x = match second {
            Some(second) => Tensor::cat(&[first, second], 1)?,
            None => first.clone(),
        };
        let (max, mean) = (x.max_keepdim(1)?, x.mean_keepdim(1)?);
        match order {
            PooledOrder::MaxThenMean => Tensor::cat(&[&max, &mean], 1),
            PooledOrder::MeanThenMax => Tensor::cat(&[&mean, &max], 1),
        }
    }
}

/// The CPU op on `first` (CustomOp1) or (first, second) (CustomOp2).
#[derive(Debug, Clone, Copy)]
struct ChannelPool {
    order: PooledOrder,
}

/// One input map: its data and its channel count.
type Map<'a, T> = (&'a [T], usize);

/// (B, H·W) of a (B, C, H, W) layout.
fn batch_and_pixels(l: &Layout) -> candle_core::Result<(usize, usize)> {
    let (b, _, h, w) = l.shape().dims4()?;
    Ok((b, h * w))
}

/// The channel rows (each H·W long) of image `i` in every map, in [first; second] order.
fn image_rows<'a, T>(maps: &'a [Map<'a, T>], i: usize, hw: usize) -> impl Iterator<Item = &'a [T]> {
    maps.iter()
        .flat_map(move |&(x, c)| x[i * c * hw..(i + 1) * c * hw].chunks(hw))
}

/// out (B, 2, HW): per image, running max and sum over the channel rows of the maps.
fn forward<T: WithDType>(maps: &[Map<T>], (b, hw): (usize, usize), order: PooledOrder) -> Vec<T> {
    let (max_ch, mean_ch) = order.channels();
    let channels: usize = maps.iter().map(|m| m.1).sum();
    let inv = T::from_f64(1.0 / channels as f64);
    let mut out = vec![T::zero(); b * 2 * hw];
    out.par_chunks_mut(2 * hw).enumerate().for_each(|(i, o)| {
        let mut rows = image_rows(maps, i, hw);
        let Some(row0) = rows.next() else { return };
        let mut max = row0.to_vec();
        let mut sum = row0.to_vec();
        for row in rows {
            for ((m, s), &v) in max.iter_mut().zip(sum.iter_mut()).zip(row) {
                // A select, not a branch, so that the loop vectorises.
                *m = if v > *m { v } else { *m };
                *s += v;
            }
        }
        o[max_ch * hw..(max_ch + 1) * hw].copy_from_slice(&max);
        for (d, &s) in o[mean_ch * hw..(mean_ch + 1) * hw].iter_mut().zip(&sum) {
            *d = s * inv;
        }
    });
    out
}

/// [d_first | d_second], flat: g_mean / C everywhere, plus g_max at the first maximal channel.
fn backward<T: WithDType>(
    maps: &[Map<T>],
    grad: &[T],
    (b, hw): (usize, usize),
    order: PooledOrder,
) -> Vec<T> {
    let (max_ch, mean_ch) = order.channels();
    let channels: usize = maps.iter().map(|m| m.1).sum();
    let inv = T::from_f64(1.0 / channels as f64);
    // Per image, one block of (all channels) x HW; the images' blocks are reordered into
    // [first (all images) | second (all images)] at the end.
    let mut blocks = vec![T::zero(); b * channels * hw];
    blocks
        .par_chunks_mut(channels * hw)
        .enumerate()
        .for_each(|(i, d)| {
            let g = &grad[i * 2 * hw..(i + 1) * 2 * hw];
            let g_max = &g[max_ch * hw..(max_ch + 1) * hw];
            let g_mean = &g[mean_ch * hw..(mean_ch + 1) * hw];
            // The first maximal channel of each pixel: only a strictly greater value replaces.
            let mut rows = image_rows(maps, i, hw);
            let Some(row0) = rows.next() else { return };
            let mut max = row0.to_vec();
            let mut arg = vec![0usize; hw];
            for (c, row) in rows.enumerate() {
                for ((m, a), &v) in max.iter_mut().zip(arg.iter_mut()).zip(row) {
                    if v > *m {
                        *m = v;
                        *a = c + 1;
                    }
                }
            }
            for row in d.chunks_mut(hw) {
                for (v, &gm) in row.iter_mut().zip(g_mean) {
                    *v = gm * inv;
                }
            }
            for (p, &c) in arg.iter().enumerate() {
                d[c * hw + p] += g_max[p];
            }
        });
    if maps.len() == 1 {
        return blocks;
    }
    let mut out = Vec::with_capacity(blocks.len());
    let mut offset = 0;
    for &(_, c) in maps {
        for block in blocks.chunks(channels * hw) {
            out.extend_from_slice(&block[offset * hw..(offset + c) * hw]);
        }
        offset += c;
    }
    out
}

/// The inputs as typed maps.
fn typed_maps<'a, T: WithDType>(
    inputs: &[(&'a CpuStorage, &Layout)],
) -> candle_core::Result<Vec<Map<'a, T>>> {
    inputs
        .iter()
        .map(|&(s, l)| Ok((contiguous_slice::<T>(s, l)?, l.shape().dims4()?.1)))
        .collect()
}

impl ChannelPool {
    fn run_forward(
        &self,
        inputs: &[(&CpuStorage, &Layout)],
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let l = inputs[0].1;
        let (b, _, h, w) = l.shape().dims4()?;
        let bhw = batch_and_pixels(l)?;
        let out = float_kernel!(inputs[0].0.dtype(), "channel pooling", T => {
            forward(&typed_maps::<T>(inputs)?, bhw, self.order)
        });
        Ok((out, Shape::from((b, 2, h, w))))
    }

    /// The flat gradient of every input, in order.
    fn gradients(&self, inputs: &[&Tensor], grad: &Tensor) -> candle_core::Result<Vec<Tensor>> {
        let grad = grad.contiguous()?;
        let op = ChannelPoolBackward { order: self.order };
        let flat = match inputs {
            [x] => x.apply_op2_no_bwd(&grad, &op)?,
            [x, y] => x.apply_op3_no_bwd(y, &grad, &op)?,
            _ => candle_core::bail!("channel pooling: one or two maps"),
        };
        let mut offset = 0;
        inputs
            .iter()
            .map(|x| {
                let d = flat.narrow(0, offset, x.elem_count())?.reshape(x.shape())?;
                offset += x.elem_count();
                Ok(d)
            })
            .collect()
    }
}

impl CustomOp1 for ChannelPool {
    fn name(&self) -> &'static str {
        "fer-channel-pool"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        self.run_forward(&[(s1, l1)])
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(self.gradients(&[x], grad)?.pop())
    }
}

impl CustomOp2 for ChannelPool {
    fn name(&self) -> &'static str {
        "fer-channel-pool-pair"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        self.run_forward(&[(s1, l1), (s2, l2)])
    }

    fn bwd(
        &self,
        first: &Tensor,
        second: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let mut g = self.gradients(&[first, second], grad)?.into_iter();
        Ok((g.next(), g.next()))
    }
}

/// The backward kernel, as an op on (maps..., grad).
struct ChannelPoolBackward {
    order: PooledOrder,
}

impl ChannelPoolBackward {
    fn run(
        &self,
        inputs: &[(&CpuStorage, &Layout)],
        (sg, lg): (&CpuStorage, &Layout),
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (b, hw) = batch_and_pixels(inputs[0].1)?;
        if lg.shape().elem_count() != b * 2 * hw {
            candle_core::bail!(
                "channel pooling backward: gradient of shape {:?}",
                lg.dims()
            );
        }
        let n: usize = inputs.iter().map(|(_, l)| l.shape().elem_count()).sum();
        let out = float_kernel!(inputs[0].0.dtype(), "channel pooling backward", T => {
            let grad = contiguous_slice::<T>(sg, lg)?;
            backward(&typed_maps::<T>(inputs)?, grad, (b, hw), self.order)
        });
        Ok((out, Shape::from(n)))
    }
}

impl CustomOp2 for ChannelPoolBackward {
    fn name(&self) -> &'static str {
        "fer-channel-pool-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        self.run(&[(s1, l1)], (s2, l2))
    }
}

impl CustomOp3 for ChannelPoolBackward {
    fn name(&self) -> &'static str {
        "fer-channel-pool-pair-backward"
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
        self.run(&[(s1, l1), (s2, l2)], (s3, l3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_tensors::{max_abs, sine_tensor as values};
    use candle_core::{Device, Var};

    /// Values and gradients against candle's cat + max + mean, in both orders, for a pair of
    /// maps and for one map, on tie-free inputs (where the two max gradients agree).
    #[test]
    fn matches_candles_generic_ops_without_ties() {
        for order in [PooledOrder::MaxThenMean, PooledOrder::MeanThenMax] {
            for pair in [true, false] {
                let a = Var::from_tensor(&values((2, 3, 4, 5), 0.1)).unwrap();
                let b = Var::from_tensor(&values((2, 4, 4, 5), 2.9)).unwrap();
                let second = pair.then(|| b.as_tensor());
                let ours = channel_max_mean(a.as_tensor(), second, order).unwrap();
                let x = match second {
                    Some(b) => Tensor::cat(&[a.as_tensor(), b], 1).unwrap(),
                    None => a.as_tensor().clone(),
                };
                let (max, mean) = (x.max_keepdim(1).unwrap(), x.mean_keepdim(1).unwrap());
                let theirs = match order {
                    PooledOrder::MaxThenMean => Tensor::cat(&[&max, &mean], 1),
                    PooledOrder::MeanThenMax => Tensor::cat(&[&mean, &max], 1),
                }
                .unwrap();
                assert!(max_abs(&(&ours - &theirs).unwrap()) < 1e-14);
                let r = values((2, 2, 4, 5), 5.3);
                let g1 = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
                let g2 = (theirs * &r)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                let vars = if pair { vec![&a, &b] } else { vec![&a] };
                for v in vars {
                    let d =
                        (g1.get(v.as_tensor()).unwrap() - g2.get(v.as_tensor()).unwrap()).unwrap();
                    assert!(
                        max_abs(&d) < 1e-14,
                        "{order:?}, pair {pair}: gradient differs"
                    );
                }
            }
        }
    }

    /// Where every channel ties (all zero after a ReLU), the max gradient goes to the first
    /// channel of `first` only, as torch.max(x, dim=1) does:
    /// ```python
    /// x = torch.zeros(1, 3, 1, 1, requires_grad=True)
    /// torch.max(x, dim=1)[0].sum().backward(); x.grad.flatten()  # tensor([1., 0., 0.])
    /// ```
    /// A tie between a channel of `second` and a later one goes to the earlier.
    #[test]
    fn max_gradient_goes_to_the_first_maximal_channel() {
        let a = Var::from_tensor(
            &Tensor::from_vec(vec![0f64, -1.0, 0.0, 2.0], (1, 2, 1, 2), &Device::Cpu).unwrap(),
        )
        .unwrap();
        let b = Var::from_tensor(
            &Tensor::from_vec(vec![0f64, 3.0, -2.0, 3.0], (1, 2, 1, 2), &Device::Cpu).unwrap(),
        )
        .unwrap();
        let y =
            channel_max_mean(a.as_tensor(), Some(b.as_tensor()), PooledOrder::MaxThenMean).unwrap();
        // By hand, over the four channels [a0, a1, b0, b1] of each pixel: pixel 0 holds
        // [0, 0, 0, -2] (max 0, mean -0.5), pixel 1 [-1, 2, 3, 3] (max 3, mean 1.75).
        assert_eq!(
            y.flatten_all().unwrap().to_vec1::<f64>().unwrap(),
            vec![0.0, 3.0, -0.5, 1.75]
        );
        // Gradient of the max channel only.
        let g = Tensor::from_vec(vec![1f64, 1.0, 0.0, 0.0], (1, 2, 1, 2), &Device::Cpu).unwrap();
        let grads = (y * g).unwrap().sum_all().unwrap().backward().unwrap();
        let ga = grads
            .get(a.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let gb = grads
            .get(b.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        // Pixel 0: channels a0, a1, b0 tie at 0 -> a0. Pixel 1: b0 and b1 tie at 3 -> b0.
        assert_eq!(ga, vec![1.0, 0.0, 0.0, 0.0]);
        assert_eq!(gb, vec![0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn f32_matches_f64() {
        let a = values((2, 5, 3, 3), 0.4);
        let b = values((2, 2, 3, 3), 1.4);
        let y64 = channel_max_mean(&a, Some(&b), PooledOrder::MaxThenMean).unwrap();
        let y32 = channel_max_mean(
            &a.to_dtype(DType::F32).unwrap(),
            Some(&b.to_dtype(DType::F32).unwrap()),
            PooledOrder::MaxThenMean,
        )
        .unwrap();
        let d = (y32.to_dtype(DType::F64).unwrap() - y64).unwrap();
        assert!(max_abs(&d) < 1e-6);
    }

    #[test]
    fn mismatched_maps_are_an_error() {
        let a = values((2, 3, 4, 5), 0.1);
        let b = values((2, 3, 4, 4), 0.1);
        let e = channel_max_mean(&a, Some(&b), PooledOrder::MaxThenMean).unwrap_err();
        assert!(
            e.to_string().contains("differ outside the channel axis"),
            "{e}"
        );
    }
}
