//! Access to a contiguous f32 CPU tensor's values, shared by the CPU kernels of the MTCNN layers
//! (candle `CustomOp1`s, written because at MTCNN's tiny sizes candle's generic CPU conv2d and
//! broadcast ops cost several times the matrix products themselves).

use candle_core::{CpuStorage, Layout};

/// The values of a contiguous f32 tensor, or an error naming `op`.
pub fn contiguous_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
) -> candle_core::Result<&'a [f32]> {
    let values = storage.as_slice::<f32>()?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&values[start..end]),
        None => candle_core::bail!("{op}: the input must be contiguous"),
    }
}
