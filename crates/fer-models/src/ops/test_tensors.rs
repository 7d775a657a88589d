//! Test helpers shared by the CPU kernels' test modules: deterministic inputs and the distance
//! between two tensors. Compiled for tests only.

use candle_core::{DType, Device, Shape, Tensor};

/// An f64 tensor of `shape` holding sin(0.613 i + seed): smooth, signed and tie-free.
pub(crate) fn sine_tensor(shape: impl Into<Shape>, seed: f64) -> Tensor {
    let shape = shape.into();
    let v: Vec<f64> = (0..shape.elem_count())
        .map(|i| (i as f64 * 0.613 + seed).sin())
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).expect("a vector of the shape's length")
}

/// max |t| over all elements, in f64 whatever t's float type.
pub(crate) fn max_abs(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64)
        .and_then(|t| t.abs()?.flatten_all()?.max(0)?.to_scalar::<f64>())
        .expect("a non-empty float tensor")
}

/// max |a - b| over all elements, in f64.
pub(crate) fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (
        a.to_dtype(DType::F64).expect("a float tensor"),
        b.to_dtype(DType::F64).expect("a float tensor"),
    );
    max_abs(&(a - b).expect("tensors of one shape"))
}

/// `t` with every value rounded to bf16 (nearest even), as f64: the operands the bf16 kernels
/// multiply.
pub(crate) fn bf16_rounded(t: &Tensor) -> Tensor {
    t.to_dtype(DType::BF16)
        .and_then(|t| t.to_dtype(DType::F64))
        .expect("a float tensor")
}
