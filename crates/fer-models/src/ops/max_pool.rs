//! 2-D max pooling with the correct gradient: kernel k = stride, no padding, floor mode for
//! BaseDCNN (paper Table 1), and the general form (kernel, stride, padding) for ResNet-18's
//! 3x3 / 2 / 1 stem pooling (paper 5.2). Padding counts as -inf, as in PyTorch: a padded
//! position never wins, and each window is clipped to the input.
//!
//! Why our own op: candle 0.11.1's `max_pool2d` backward scales the incoming gradient by
//! (number of maxima in the window) / (k * k) instead of routing it to the maximum, and for odd
//! input sizes (25 -> 12, which BaseDCNN meets at 100 px) it places it on the wrong pixels.
//! This op routes each output gradient to the first maximum of its window in row-major order,
//! as PyTorch does; rows and columns beyond the last full window get no gradient. Overlapping
//! windows (stride < kernel) add their gradients where they share a maximum.
//!
//! On the CPU both directions are custom ops. On other devices the pooling is written with
//! reshapes (kernel = stride) or gathers (general case) and a `max` reduction, whose gradient
//! is routed to every tied maximum (ties have probability zero for real-valued activations).

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use crate::ops::cpu_slice::{contiguous_slice, float_kernel};

/// Max pooling with a square kernel equal to its stride.
pub fn max_pool2d(x: &Tensor, k: usize) -> candle_core::Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    if k == 0 || h < k || w < k {
        candle_core::bail!("max_pool2d: kernel {k} does not fit an input of {h}x{w}");
    }
    if x.device().is_cpu() {
        x.contiguous()?.apply_op1(MaxPool2d::new(k, k, 0))
    } else {
        generic_max_pool2d(x, k)
    }
}

/// Max pooling with a square `kernel`, `stride` and `padding`, as PyTorch's
/// `nn.MaxPool2d(kernel, stride, padding)` (floor mode, padding = -inf, gradient to the first
/// maximum of each window). ResNet-18's stem uses (3, 2, 1).
///
/// # Shapes
/// (B, C, H, W) -> (B, C, H', W'), H' = (H + 2 padding - kernel) / stride + 1.
pub fn max_pool2d_with(
    x: &Tensor,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> candle_core::Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    if kernel == 0 || stride == 0 {
        candle_core::bail!("max_pool2d: kernel {kernel} and stride {stride} must be positive");
    }
    // PyTorch's rule; it also guarantees that every window holds at least one input pixel.
    if 2 * padding > kernel {
        candle_core::bail!("max_pool2d: padding {padding} exceeds half the kernel {kernel}");
    }
    if h + 2 * padding < kernel || w + 2 * padding < kernel {
        candle_core::bail!(
            "max_pool2d: kernel {kernel} with padding {padding} does not fit an input of {h}x{w}"
        );
    }
    if x.device().is_cpu() {
        x.contiguous()?
            .apply_op1(MaxPool2d::new(kernel, stride, padding))
    } else if stride == kernel && padding == 0 {
        generic_max_pool2d(x, kernel)
    } else {
        gather_max_pool2d(x, kernel, stride, padding)
    }
}

/// Device-independent pooling through reshape + max (used off the CPU).
fn generic_max_pool2d(x: &Tensor, k: usize) -> candle_core::Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    let (ho, wo) = (h / k, w / k);
    let x = x.narrow(2, 0, ho * k)?.narrow(3, 0, wo * k)?;
    x.reshape((b, c, ho, k, wo, k))?.max(5)?.max(3)
}

/// Device-independent general pooling (used off the CPU when kernel != stride or padding > 0):
/// pads with -inf, gathers the kernel x kernel strided views with `index_select` and takes
/// their maximum.
fn gather_max_pool2d(
    x: &Tensor,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> candle_core::Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    let (ho, wo) = (
        pooled_size(h, kernel, stride, padding),
        pooled_size(w, kernel, stride, padding),
    );
    let x = if padding > 0 {
        let dev = x.device();
        let dt = x.dtype();
        let rows = Tensor::full(f32::NEG_INFINITY, (b, c, padding, w), dev)?.to_dtype(dt)?;
        let x = Tensor::cat(&[&rows, x, &rows], 2)?;
        let cols =
            Tensor::full(f32::NEG_INFINITY, (b, c, h + 2 * padding, padding), dev)?.to_dtype(dt)?;
        Tensor::cat(&[&cols, &x, &cols], 3)?
    } else {
        x.clone()
    };
    let dev = x.device().clone();
    let index = |offset: usize, n: usize| {
        let idx: Vec<u32> = (0..n).map(|o| (o * stride + offset) as u32).collect();
        Tensor::new(idx, &dev)
    };
    let mut views = Vec::with_capacity(kernel * kernel);
    for dy in 0..kernel {
        let r = x.index_select(&index(dy, ho)?, 2)?;
        for dx in 0..kernel {
            views.push(r.index_select(&index(dx, wo)?, 3)?);
        }
    }
    Tensor::stack(&views, 4)?.max(4)
}

/// Output length of a pooling along one axis (floor mode).
fn pooled_size(n: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    (n + 2 * padding).saturating_sub(kernel) / stride + 1
}

/// Kernel, stride and padding of one pooling.
#[derive(Clone, Copy)]
struct Window {
    k: usize,
    stride: usize,
    pad: usize,
}

impl Window {
    fn out_dims(&self, h: usize, w: usize) -> (usize, usize) {
        (
            pooled_size(h, self.k, self.stride, self.pad),
            pooled_size(w, self.k, self.stride, self.pad),
        )
    }

    /// The input indices [start, end) that the window of output index `o` covers along an
    /// axis of length `n`, clipped to the input (the clipped part is the -inf padding).
    fn span(&self, o: usize, n: usize) -> (usize, usize) {
        let start = (o * self.stride).saturating_sub(self.pad);
        let end = (o * self.stride + self.k).saturating_sub(self.pad).min(n);
        (start, end)
    }

    /// The flat index (within one H x W plane) of the first maximum of a window, in row-major
    /// order as PyTorch's kernel scans it.
    fn argmax<T: WithDType>(
        &self,
        plane: &[T],
        (h, w): (usize, usize),
        oy: usize,
        ox: usize,
    ) -> usize {
        let (y0, y1) = self.span(oy, h);
        let (x0, x1) = self.span(ox, w);
        let mut best = y0 * w + x0;
        let mut best_v = plane[best];
        for y in y0..y1 {
            for x in x0..x1 {
                let v = plane[y * w + x];
                // Strict '>' keeps the first maximum; NaN never replaces a value, as in
                // PyTorch's CPU kernel it would propagate, but our inputs are finite.
                if v > best_v {
                    best_v = v;
                    best = y * w + x;
                }
            }
        }
        best
    }
}

struct MaxPool2d {
    window: Window,
}

impl MaxPool2d {
    fn new(k: usize, stride: usize, pad: usize) -> Self {
        Self {
            window: Window { k, stride, pad },
        }
    }
}

struct MaxPool2dBackward {
    window: Window,
}

fn forward_impl<T: WithDType + Send + Sync>(
    x: &[T],
    (b, c, h, w): (usize, usize, usize, usize),
    win: Window,
) -> Vec<T> {
    let (ho, wo) = win.out_dims(h, w);
    let mut out = vec![T::zero(); b * c * ho * wo];
    out.par_chunks_mut(ho * wo)
        .zip(x.par_chunks(h * w))
        .for_each(|(o, plane)| {
            for oy in 0..ho {
                for ox in 0..wo {
                    o[oy * wo + ox] = plane[win.argmax(plane, (h, w), oy, ox)];
                }
            }
        });
    out
}

fn backward_impl<T: WithDType + Send + Sync>(
    x: &[T],
    g: &[T],
    (b, c, h, w): (usize, usize, usize, usize),
    win: Window,
) -> Vec<T> {
    let (ho, wo) = win.out_dims(h, w);
    let mut out = vec![T::zero(); b * c * h * w];
    out.par_chunks_mut(h * w)
        .zip(x.par_chunks(h * w))
        .zip(g.par_chunks(ho * wo))
        .for_each(|((o, plane), gp)| {
            for oy in 0..ho {
                for ox in 0..wo {
                    let i = win.argmax(plane, (h, w), oy, ox);
                    o[i] += gp[oy * wo + ox];
                }
            }
        });
    out
}

fn dims4(l: &Layout) -> candle_core::Result<(usize, usize, usize, usize)> {
    l.shape().dims4()
}

impl CustomOp1 for MaxPool2d {
    fn name(&self) -> &'static str {
        "fer-max-pool2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = dims4(l)?;
        let win = self.window;
        let (ho, wo) = win.out_dims(d.2, d.3);
        let shape = Shape::from((d.0, d.1, ho, wo));
        let out = float_kernel!(s.dtype(), "max_pool2d", T => forward_impl(contiguous_slice::<T>(s, l)?, d, win));
        Ok((out, shape))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let op = MaxPool2dBackward {
            window: self.window,
        };
        let g = arg.apply_op2_no_bwd(&grad_res.contiguous()?, &op)?;
        Ok(Some(g))
    }
}

impl CustomOp2 for MaxPool2dBackward {
    fn name(&self) -> &'static str {
        "fer-max-pool2d-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = dims4(l1)?;
        let gd = dims4(l2)?;
        let (ho, wo) = self.window.out_dims(d.2, d.3);
        if gd != (d.0, d.1, ho, wo) {
            candle_core::bail!("max_pool2d backward: gradient shape {gd:?} for input {d:?}");
        }
        let out = match (s1.dtype(), s2.dtype()) {
            (DType::F32, DType::F32) => CpuStorage::F32(backward_impl(
                contiguous_slice::<f32>(s1, l1)?,
                contiguous_slice::<f32>(s2, l2)?,
                d,
                self.window,
            )),
            (DType::F64, DType::F64) => CpuStorage::F64(backward_impl(
                contiguous_slice::<f64>(s1, l1)?,
                contiguous_slice::<f64>(s2, l2)?,
                d,
                self.window,
            )),
            (a, b) => candle_core::bail!("max_pool2d backward: unsupported dtypes {a:?}/{b:?}"),
        };
        Ok((out, l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::gradient_check::checked_gradient;
    use candle_core::{Device, Var};

    /// Pseudo-random distinct values (no ties), deterministic.
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0 + i as f64 * 1e-9
            })
            .collect()
    }

    #[test]
    fn forward_matches_candle_forward() {
        let dev = Device::Cpu;
        for (h, w) in [(24, 24), (25, 25), (7, 10)] {
            let x = Tensor::from_vec(values(2 * 3 * h * w, 5), (2, 3, h, w), &dev).unwrap();
            let ours = max_pool2d(&x, 2).unwrap();
            let theirs = x.max_pool2d(2).unwrap();
            let diff = (ours - theirs).unwrap().abs().unwrap().max_all().unwrap();
            assert_eq!(diff.to_scalar::<f64>().unwrap(), 0.0);
        }
    }

    /// Checks the gradient of `pool` from a (1, 2, h, w) input to a (1, 2, ho, wo) output
    /// against finite differences, and that it sums to the sum of the output weights: every
    /// output's gradient lands on one input, none is lost or scaled.
    fn check_pool_gradient(
        pool: impl Fn(&Tensor) -> candle_core::Result<Tensor>,
        (h, w): (usize, usize),
        (ho, wo): (usize, usize),
        (x_seed, weight_seed): (u64, u64),
    ) {
        let x0 = values(2 * h * w, x_seed);
        let weights = Tensor::from_vec(
            values(2 * ho * wo, weight_seed),
            (1, 2, ho, wo),
            &Device::Cpu,
        )
        .unwrap();
        let g = checked_gradient(pool, &x0, (1, 2, h, w), &weights, 1e-6, &format!("{h}x{w}"));
        let total: f64 = g.iter().sum();
        let wsum = weights.sum_all().unwrap().to_scalar::<f64>().unwrap();
        assert!((total - wsum).abs() < 1e-9);
    }

    #[test]
    fn gradient_matches_finite_differences_for_even_and_odd_sizes() {
        for (h, w) in [(4, 4), (5, 5), (25, 25), (6, 7)] {
            check_pool_gradient(
                |x| max_pool2d(x, 2),
                (h, w),
                (h / 2, w / 2),
                ((h * 31 + w) as u64, 99),
            );
        }
    }

    #[test]
    fn gradient_of_a_sum_has_the_right_total() {
        // The measurement: 2x2 pool on 24x24, d(sum)/dx must sum to 12*12*(channels).
        let dev = Device::Cpu;
        let x = Var::from_tensor(
            &Tensor::from_vec(values(24 * 24, 3), (1, 1, 24, 24), &dev)
                .unwrap()
                .to_dtype(DType::F32)
                .unwrap(),
        )
        .unwrap();
        let g = max_pool2d(x.as_tensor(), 2)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let s = g
            .get(x.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(s, 144.0);
    }

    /// Straightforward PyTorch semantics: -inf padding, floor mode.
    fn naive_pool(x: &[f64], (h, w): (usize, usize), k: usize, s: usize, p: usize) -> Vec<f64> {
        let ho = (h + 2 * p - k) / s + 1;
        let wo = (w + 2 * p - k) / s + 1;
        let mut out = vec![f64::NEG_INFINITY; ho * wo];
        for oy in 0..ho {
            for ox in 0..wo {
                for ky in 0..k {
                    for kx in 0..k {
                        let (y, xx) = (
                            (oy * s + ky) as isize - p as isize,
                            (ox * s + kx) as isize - p as isize,
                        );
                        if y >= 0 && xx >= 0 && (y as usize) < h && (xx as usize) < w {
                            let v = x[y as usize * w + xx as usize];
                            out[oy * wo + ox] = out[oy * wo + ox].max(v);
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn general_pooling_forward_matches_a_naive_loop() {
        let dev = Device::Cpu;
        for (h, w, k, s, p) in [
            (7, 7, 3, 2, 1),
            (8, 8, 3, 2, 1),
            (50, 50, 3, 2, 1),
            (5, 6, 3, 2, 1),
            (6, 5, 2, 1, 0),
            (9, 7, 3, 3, 0),
            (6, 6, 5, 2, 2),
        ] {
            let x0 = values(2 * h * w, (h * 7 + w) as u64);
            let x = Tensor::from_vec(x0.clone(), (1, 2, h, w), &dev).unwrap();
            let ours: Vec<f64> = max_pool2d_with(&x, k, s, p)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let mut reference = naive_pool(&x0[..h * w], (h, w), k, s, p);
            reference.extend(naive_pool(&x0[h * w..], (h, w), k, s, p));
            assert_eq!(ours, reference, "{h}x{w} k{k} s{s} p{p}");
        }
        // 100 px through ResNet-18's stem: 50 -> 25; 7x7 -> 4.
        let x = Tensor::zeros((1, 1, 50, 50), DType::F32, &dev).unwrap();
        assert_eq!(
            max_pool2d_with(&x, 3, 2, 1).unwrap().dims(),
            &[1, 1, 25, 25]
        );
        let x = Tensor::zeros((1, 1, 7, 7), DType::F32, &dev).unwrap();
        assert_eq!(max_pool2d_with(&x, 3, 2, 1).unwrap().dims(), &[1, 1, 4, 4]);
        assert!(
            max_pool2d_with(&x, 3, 2, 2).is_err(),
            "padding above kernel / 2"
        );
    }

    #[test]
    fn general_pooling_gradient_matches_finite_differences() {
        for (h, w) in [(4, 4), (5, 5), (7, 6), (25, 25), (8, 9)] {
            let (k, s, p) = (3, 2, 1);
            let (ho, wo) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
            check_pool_gradient(
                |x| max_pool2d_with(x, k, s, p),
                (h, w),
                (ho, wo),
                ((h * 13 + w) as u64, 77),
            );
        }
    }

    // PyTorch 2.15:
    // x = torch.tensor([[3.,1,3,0],[3,2,1,3],[0,3,0,1],[2,2,3,3],[1,0,3,2]]).reshape(1,1,5,4)
    // y = F.max_pool2d(x.requires_grad_(), 3, 2, 1)   # [[3,3],[3,3],[2,3]]
    // (y * torch.tensor([[1.,2],[3,4],[5,6]])).sum().backward(); x.grad
    // -> [[1,0,2,0],[3,0,0,4],[0,0,0,0],[5,0,6,0],[0,0,0,0]]
    // and for x = torch.zeros(1,1,5,4), y.sum().backward():
    // -> [[1,1,0,0],[1,1,0,0],[0,0,0,0],[1,1,0,0],[0,0,0,0]]
    #[test]
    fn ties_route_the_gradient_to_the_first_maximum_as_pytorch() {
        let dev = Device::Cpu;
        let check = |x: Vec<f32>, wts: Vec<f32>, y_ref: Vec<f32>, g_ref: Vec<f32>| {
            let var = Var::from_tensor(&Tensor::from_vec(x, (1, 1, 5, 4), &dev).unwrap()).unwrap();
            let y = max_pool2d_with(var.as_tensor(), 3, 2, 1).unwrap();
            assert_eq!(y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), y_ref);
            let wt = Tensor::from_vec(wts, (1, 1, 3, 2), &dev).unwrap();
            let g = (y * wt).unwrap().sum_all().unwrap().backward().unwrap();
            let g: Vec<f32> = g
                .get(var.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            assert_eq!(g, g_ref);
        };
        check(
            vec![
                3., 1., 3., 0., 3., 2., 1., 3., 0., 3., 0., 1., 2., 2., 3., 3., 1., 0., 3., 2.,
            ],
            vec![1., 2., 3., 4., 5., 6.],
            vec![3., 3., 3., 3., 2., 3.],
            vec![
                1., 0., 2., 0., 3., 0., 0., 4., 0., 0., 0., 0., 5., 0., 6., 0., 0., 0., 0., 0.,
            ],
        );
        check(
            vec![0.; 20],
            vec![1.; 6],
            vec![0.; 6],
            vec![
                1., 1., 0., 0., 1., 1., 0., 0., 0., 0., 0., 0., 1., 1., 0., 0., 0., 0., 0., 0.,
            ],
        );
    }

    #[test]
    fn gather_fallback_matches_the_cpu_op() {
        // The off-CPU path, run on the CPU: same values and, without ties, same gradient.
        let dev = Device::Cpu;
        for (h, w, k, s, p) in [(7, 8, 3, 2, 1), (10, 10, 3, 2, 1), (6, 7, 2, 1, 0)] {
            let var = Var::from_tensor(
                &Tensor::from_vec(values(2 * h * w, 11), (1, 2, h, w), &dev).unwrap(),
            )
            .unwrap();
            let a = max_pool2d_with(var.as_tensor(), k, s, p).unwrap();
            let b = gather_max_pool2d(var.as_tensor(), k, s, p).unwrap();
            let diff = (&a - &b).unwrap().abs().unwrap().max_all().unwrap();
            assert_eq!(diff.to_scalar::<f64>().unwrap(), 0.0);
            let wt = Tensor::from_vec(values(a.elem_count(), 12), a.shape(), &dev).unwrap();
            let ga = (a * &wt).unwrap().sum_all().unwrap().backward().unwrap();
            let gb = (b * &wt).unwrap().sum_all().unwrap().backward().unwrap();
            let d = (ga.get(var.as_tensor()).unwrap() - gb.get(var.as_tensor()).unwrap())
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap();
            assert!(d < 1e-12, "{h}x{w}: gradients differ by {d}");
        }
    }
}
