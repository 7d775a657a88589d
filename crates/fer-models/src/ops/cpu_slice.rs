//! The helpers our CPU custom ops share: the contiguous data of a storage and layout (also used
//! by the MTCNN ops of fer-face), and the dispatch of a kernel generic over f32 and f64.

use candle_core::{CpuStorage, Layout, WithDType};

/// The elements a contiguous layout covers; an error for strided layouts (callers make their
/// inputs contiguous first).
pub fn contiguous_slice<'a, T: WithDType>(
    s: &'a CpuStorage,
    l: &Layout,
) -> candle_core::Result<&'a [T]> {
    let data = s.as_slice::<T>()?;
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("custom op: input must be contiguous"),
    }
}

/// An error unless the bias layout holds exactly `outputs` values (one per output feature or
/// channel): the kernels index it per output and would otherwise read out of bounds.
pub(crate) fn check_bias(
    op: &str,
    bias: Option<(&CpuStorage, &Layout)>,
    outputs: usize,
) -> candle_core::Result<()> {
    match bias {
        Some((_, l)) if l.shape().elem_count() != outputs => candle_core::bail!(
            "{op}: bias of shape {:?} for {outputs} outputs",
            l.shape().dims()
        ),
        _ => Ok(()),
    }
}

/// Runs a kernel written generically over the element type on an f32 or f64 storage:
/// `float_kernel!(dtype, "op", T => body)` evaluates `body` with the type `T` set to f32 or f64
/// and wraps the `Vec<T>` it returns in the matching `CpuStorage`; any other dtype is an error
/// naming the op. One dispatch for every custom op's `cpu_fwd`.
macro_rules! float_kernel {
    ($dtype:expr, $what:expr, $t:ident => $body:expr) => {
        match $dtype {
            candle_core::DType::F32 => {
                type $t = f32;
                candle_core::CpuStorage::F32($body)
            }
            candle_core::DType::F64 => {
                type $t = f64;
                candle_core::CpuStorage::F64($body)
            }
            dt => candle_core::bail!("{}: unsupported dtype {dt:?}", $what),
        }
    };
}
pub(crate) use float_kernel;
