//! The precision of the convolution and linear layers' multiplications on the CPU: fp32 (the
//! default, for reproduction) or bf16 with fp32 accumulation (`--precision bf16`, opt-in
//! mixed precision). Not part of the paper: the paper trains in fp32.
//!
//! It is set for a scope, as PyTorch's `torch.autocast` is, rather than passed to every layer
//! constructor: the layers of every model and add-on crate would otherwise need a new
//! argument, and the weights, optimiser state, batch-norm statistics, losses and reductions
//! stay fp32 whatever the setting. A layer reads the setting when its forward runs and keeps
//! it in its op, so the backward of that forward uses the same precision. The setting is per
//! thread: the trainer sets it on the thread that runs the forward and backward passes, and
//! tests running side by side do not see each other's.

use std::cell::Cell;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// Precision of the GEMMs of convolutions and linear layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// fp32 operands and accumulation (the default).
    #[default]
    Fp32,
    /// bf16 operands (rounded to nearest even from the fp32 values), fp32 accumulation, through
    /// AVX-512 BF16's `vdpbf16ps`.
    Bf16,
}

impl Precision {
    /// Names accepted by [`Precision::parse`], as a user types them.
    pub const NAMES: [&'static str; 2] = ["fp32", "bf16"];

    /// Parses `fp32` or `bf16`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "fp32" => Ok(Self::Fp32),
            "bf16" => Ok(Self::Bf16),
            other => Err(ModelError::Config(format!(
                "unknown precision '{other}' (known: {})",
                Self::NAMES.join(", ")
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Bf16 => "bf16",
        }
    }

    pub fn is_fp32(&self) -> bool {
        *self == Self::Fp32
    }

    /// Whether this processor runs the precision natively. bf16 needs AVX-512 BF16: without
    /// it we refuse rather than emulate (an emulation would be slower than fp32, the opposite
    /// of what the user asked for).
    pub fn check_supported(self) -> Result<()> {
        match self.support_problem() {
            None => Ok(()),
            Some(problem) => Err(ModelError::Config(problem)),
        }
    }

    /// Why this processor cannot run the precision, if it cannot.
    pub fn support_problem(self) -> Option<String> {
        match self {
            Self::Bf16 if !crate::ops::bf16_gemm::is_supported() => Some(
                "bf16 needs a processor with AVX-512 BF16 (vdpbf16ps), and this one has none; \
                 use fp32"
                    .into(),
            ),
            _ => None,
        }
    }
}

thread_local! {
    static CURRENT: Cell<Precision> = const { Cell::new(Precision::Fp32) };
}

/// The precision the layers of this thread use now.
pub fn current() -> Precision {
    CURRENT.with(Cell::get)
}

/// Restores the previous precision when dropped.
#[derive(Debug)]
#[must_use = "the precision is reset when the guard is dropped"]
pub struct AutocastGuard {
    previous: Precision,
}

impl Drop for AutocastGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

/// Sets this thread's precision until the guard is dropped; an error if the processor cannot
/// run it.
pub fn autocast(precision: Precision) -> Result<AutocastGuard> {
    precision.check_supported()?;
    let previous = CURRENT.with(|c| c.replace(precision));
    Ok(AutocastGuard { previous })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_and_unknown() {
        assert_eq!(Precision::parse("bf16").unwrap(), Precision::Bf16);
        assert_eq!(Precision::parse("fp32").unwrap(), Precision::Fp32);
        let e = Precision::parse("fp16").unwrap_err().to_string();
        assert!(e.contains("'fp16'") && e.contains("fp32, bf16"), "{e}");
    }

    #[test]
    fn the_guard_restores_the_previous_precision() {
        assert_eq!(current(), Precision::Fp32);
        match autocast(Precision::Bf16) {
            Ok(guard) => {
                assert_eq!(current(), Precision::Bf16);
                drop(guard);
            }
            Err(e) => assert!(e.to_string().contains("AVX-512 BF16"), "{e}"),
        }
        assert_eq!(current(), Precision::Fp32);
    }
}
