//! CPU kernels: candle custom ops with their own backward, because candle's generic CPU
//! operations made training too slow (a new buffer and a single-threaded pass per
//! intermediate, a dozen broadcast passes for one batch norm) and candle 0.11.1's
//! `max_pool2d` backward is wrong. Off the CPU the callers fall back to candle's own
//! operations. See ARCHITECTURE.md "fer-models".
//!
//! The lowest layer of the crate: it uses nothing of `nn`, `models` or `io` (only
//! `mac_counter`, to count the convolutions' multiply-accumulates).
//!
//! - Layers with a fused kernel: `fused_conv2d` (the convolution kernel) behind `gemm_conv2d`
//!   (the convolution layer), `fused_linear` (with `small_batch_gemm` for small batches),
//!   `fused_batch_norm`, `max_pool`.
//! - Attention pieces: `broadcast_scale` (a channel or pixel map applied to a feature map),
//!   `channel_pool` (SCAM's channel max and mean), `co_attention_scores`
//!   (CCAM's softmaxed channel scores, with `vector_exp` for its exponentials), `weighted_sum`
//!   (the mixing of eq. 1 and of the cross-stitch units).
//! - Mixed precision: `matmul_precision` (the fp32/bf16 setting, scoped like PyTorch's
//!   autocast) and `bf16_gemm` (its AVX-512 BF16 GEMM).
//! - The optimiser's update: `fused_adam` (Adam in place, used by fer-train's `Adam`).
//! - `cpu_isa`: the instruction-set level the kernels run at, which runs record.
//! - Helpers: `cpu_slice` (public: fer-face's MTCNN ops use it too), and the private
//!   `cpu_gemm`, `lane_sum`, `flat_gradients`; for tests,
//!   `test_tensors` and `gradient_check`.

mod bf16_gemm;
pub mod broadcast_scale;
pub mod channel_pool;
pub mod co_attention_scores;
mod cpu_gemm;
pub mod cpu_isa;
pub mod cpu_slice;
mod flat_gradients;
pub mod fused_adam;
pub mod fused_batch_norm;
pub mod fused_conv2d;
pub mod fused_linear;
pub mod gemm_conv2d;
#[cfg(test)]
mod gradient_check;
mod lane_sum;
pub mod matmul_precision;
pub mod max_pool;
mod small_batch_gemm;
#[cfg(test)]
pub(crate) mod test_tensors;
mod vector_exp;
pub mod weighted_sum;
