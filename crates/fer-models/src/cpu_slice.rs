//! The one helper our CPU custom ops share: the contiguous data of a storage and layout.

use candle_core::{CpuStorage, Layout, WithDType};

/// The elements a contiguous layout covers; an error for strided layouts (callers make their
/// inputs contiguous first).
pub(crate) fn contiguous_slice<'a, T: WithDType>(
    s: &'a CpuStorage,
    l: &Layout,
) -> candle_core::Result<&'a [T]> {
    let data = s.as_slice::<T>()?;
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("custom op: input must be contiguous"),
    }
}
