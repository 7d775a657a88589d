//! The finite-difference check of a kernel's backward, shared by the CPU kernels' test
//! modules: the gradient that candle's backprop computes through the kernel, compared element
//! by element with central differences of the forward. Compiled for tests only.

use candle_core::{Device, Shape, Tensor, Var};

/// The gradient of sum(f(x) ⊙ weights) with respect to x at `x0` (f64, of `shape`), by
/// backprop through `f`, after asserting that every element is within `tol` of the central
/// difference (L(x + eps e_i) - L(x - eps e_i)) / 2 eps with eps = 1e-6. `label` names the
/// case in a failure.
pub(crate) fn checked_gradient(
    f: impl Fn(&Tensor) -> candle_core::Result<Tensor>,
    x0: &[f64],
    shape: impl Into<Shape>,
    weights: &Tensor,
    tol: f64,
    label: &str,
) -> Vec<f64> {
    let shape = shape.into();
    let dev = Device::Cpu;
    let tensor = |v: Vec<f64>| {
        Tensor::from_vec(v, shape.clone(), &dev).expect("a vector of the shape's length")
    };
    let weighted_sum = |x: &Tensor| {
        (f(x).expect("the forward") * weights)
            .and_then(|y| y.sum_all())
            .expect("an output of the weights' shape")
    };
    let loss = |x: &Tensor| -> f64 { weighted_sum(x).to_scalar::<f64>().expect("an f64 scalar") };
    let var = Var::from_tensor(&tensor(x0.to_vec())).expect("a tensor");
    let grads = weighted_sum(var.as_tensor())
        .backward()
        .expect("the backward");
    let g: Vec<f64> = grads
        .get(var.as_tensor())
        .expect("a gradient for x")
        .flatten_all()
        .and_then(|g| g.to_vec1())
        .expect("an f64 gradient");
    let eps = 1e-6;
    for i in 0..x0.len() {
        let mut xp = x0.to_vec();
        xp[i] += eps;
        let mut xm = x0.to_vec();
        xm[i] -= eps;
        let fd = (loss(&tensor(xp)) - loss(&tensor(xm))) / (2.0 * eps);
        assert!(
            (fd - g[i]).abs() < tol,
            "{label} index {i}: fd {fd} vs grad {}",
            g[i]
        );
    }
    g
}
