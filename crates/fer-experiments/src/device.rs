//! The compute device chosen on the command line (ARCHITECTURE.md "fer-experiments"): the
//! experiments and every command parse `cpu`, `cuda` or `cuda:N` the same way.

use crate::error::{bail, Result};
use candle_core::Device;

/// `cpu`, or `cuda` / `cuda:N` when built with the `cuda` feature.
pub fn parse_device(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::Cpu),
        n if n == "cuda" || n.starts_with("cuda:") => {
            let ordinal: usize = n
                .strip_prefix("cuda:")
                .map(|o| o.parse())
                .transpose()?
                .unwrap_or(0);
            if !candle_core::utils::cuda_is_available() {
                bail!("device '{name}': this binary was built without the `cuda` feature (build with `--features cuda`)");
            }
            Ok(Device::new_cuda(ordinal)?)
        }
        other => bail!("unknown device '{other}' (use cpu, cuda or cuda:N)"),
    }
}
