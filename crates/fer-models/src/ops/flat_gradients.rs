//! Splits the one flat buffer that the backward kernels of `fused_conv2d` and `fused_linear`
//! return, [dx (when the input needs it) | dW | db], into tensors shaped like x, W and b.

use candle_core::Tensor;

/// (dx, dW, db) from `flat`; dx is present only when `has_dx`.
pub(crate) fn split_flat_gradients(
    flat: &Tensor,
    x: &Tensor,
    w: &Tensor,
    has_dx: bool,
) -> candle_core::Result<(Option<Tensor>, Tensor, Tensor)> {
    let (nx, nw, n_out) = (x.elem_count(), w.elem_count(), w.dim(0)?);
    let (dx, off) = if has_dx {
        (Some(flat.narrow(0, 0, nx)?.reshape(x.shape())?), nx)
    } else {
        (None, 0)
    };
    let dw = flat.narrow(0, off, nw)?.reshape(w.shape())?;
    let db = flat.narrow(0, off + nw, n_out)?;
    Ok((dx, dw, db))
}
