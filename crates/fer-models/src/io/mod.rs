//! Weights in and out of files: pretrained safetensors weights loaded into a model's
//! `VarMap` (and found in the offline hub cache), and checkpoints of the reference
//! implementation imported under this crate's parameter names. See ARCHITECTURE.md
//! "fer-models".
//!
//! Works on variable maps and parameter names only; it builds no layer itself.

pub mod pickle_lengths;
pub mod pretrained_weights;
pub mod reference_checkpoint;
pub mod torch_zip;
