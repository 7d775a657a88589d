//! Counts a model's trained parameters, for `cargo xtask models`, beside `mac_counter`'s
//! multiply-accumulates and the time costs of paper Table 10 (the paper gives no model sizes).

/// The number of trained parameters in a variable map: every variable except the batch
/// norms' running statistics, which are variables but are set by the forward pass, not by the
/// optimiser (PyTorch keeps them as buffers, outside `parameters()`).
pub fn trainable_parameter_count(varmap: &candle_nn::VarMap) -> usize {
    let data = varmap.data().lock();
    // A poisoned lock only says another thread panicked while holding it; the map is intact.
    let data = data.unwrap_or_else(|e| e.into_inner());
    data.iter()
        .filter(|(n, _)| !n.ends_with("running_mean") && !n.ends_with("running_var"))
        .map(|(_, v)| v.elem_count())
        .sum()
}
