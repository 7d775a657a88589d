//! Where a finished run's numbers came from: the code version that trained it (git commit and
//! whether the tree had uncommitted changes), the device and the number of compute threads.
//! Saved in `metrics.json` beside the metrics, never in `config.yaml`: it must not change the
//! run id, so a committed record stays valid across later commits, and the report lists the
//! code versions when the records of one experiment differ.
//!
//! The thread count is part of the record because the CPU kernels split their sums by thread
//! (fer-models' convolution backward merges per-thread partial gradients in a fixed order):
//! seeded runs repeat bit for bit on the same thread count. So is the processor's
//! instruction-set level (`fer_models::ops::cpu_isa`): AVX-512 and AVX2 machines run different
//! GEMM kernels, whose sums differ within f32 rounding, so the same seed gives other numbers.

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
        cpu: device.is_cpu().then(cpu_description),
    }
}

/// The processor's name and the kernels' instruction-set level: `AMD EPYC, x86-64-v3`. The
/// name comes from /proc/cpuinfo where there is one (it is for the reader; the level decides
/// the numbers).
pub fn cpu_description() -> String {
    let level = fer_models::ops::cpu_isa::CpuIsa::detect().name();
    let name = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .filter(|n| !n.is_empty());
    match name {
        Some(n) => format!("{n}, {level}"),
        None => level.to_string(),
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
        let level = fer_models::ops::cpu_isa::CpuIsa::detect().name();
        assert!(
            p.cpu.as_deref().is_some_and(|c| c.ends_with(level)),
            "{p:?}"
        );
        assert_eq!(p.short(), "0123456789ab+dirty");
        let unknown = provenance_of_this_process(None, &Device::Cpu);
        assert_eq!(unknown.short(), "unknown");
    }
}
