//! Where a finished run's numbers came from: the code version that trained it (git commit and
//! whether the tree had uncommitted changes), the device and the number of compute threads.
//! Saved in `metrics.json` beside the metrics, never in `config.yaml`: it must not change the
//! run id, so a committed record stays valid across later commits, and the report lists the
//! code versions when the records of one experiment differ.
//!
//! The thread count is part of the record because the CPU kernels split their sums by thread
//! (fer-models' convolution backward merges per-thread partial gradients in a fixed order):
//! seeded runs repeat bit for bit on the same thread count.

use candle_core::{Device, DeviceLocation};
use fer_runs::RunProvenance;

/// The code version of the program that trains, as its build saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeVersion {
    /// Full git commit hash, or `unknown` when the build saw no git repository.
    pub commit: &'static str,
    /// True when the working tree differed from that commit at build time.
    pub dirty: bool,
}

/// The provenance of a run trained now, in this process, on `device` (the block of
/// `metrics.json` that fer-runs defines).
pub fn provenance_of_this_process(code: Option<CodeVersion>, device: &Device) -> RunProvenance {
    let code = code.unwrap_or(CodeVersion {
        commit: "unknown",
        dirty: false,
    });
    RunProvenance {
        commit: code.commit.to_string(),
        dirty: code.dirty,
        device: device_name(device),
        threads: rayon::current_num_threads(),
    }
}

/// `cpu`, `cuda:0`, `metal:0`.
pub fn device_name(device: &Device) -> String {
    match device.location() {
        DeviceLocation::Cpu => "cpu".to_string(),
        DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_names_the_device_threads_and_version() {
        let p = provenance_of_this_process(
            Some(CodeVersion {
                commit: "0123456789abcdef0123",
                dirty: true,
            }),
            &Device::Cpu,
        );
        assert_eq!(p.device, "cpu");
        assert_eq!(p.threads, rayon::current_num_threads());
        assert_eq!(p.short(), "0123456789ab+dirty");
        let unknown = provenance_of_this_process(None, &Device::Cpu);
        assert_eq!(unknown.short(), "unknown");
    }
}
