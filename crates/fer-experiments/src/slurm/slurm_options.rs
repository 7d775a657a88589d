//! `SlurmOptions`: the resources a user asks of Slurm for every task of a sweep
//! (`--partition`, `--time`, `--cpus-per-task`, `--mem`, `--gres`, `--array-parallelism`,
//! `--account`, `--sbatch-arg`), turned into `#SBATCH` lines.

use serde::{Deserialize, Serialize};

use crate::error::{bail, Result};

/// Slurm's options for the tasks of a sweep. Unset options are left to the cluster's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    /// Time limit per task (`HH:MM:SS`, `D-HH:MM:SS` or minutes).
    pub time: Option<String>,
    /// CPUs per task; the task computes with this many threads.
    pub cpus_per_task: Option<usize>,
    /// Memory per task (`8G`).
    pub mem: Option<String>,
    /// Generic resources per task (`gpu:1`); a task uses the GPU Slurm makes visible to it.
    pub gres: Option<String>,
    /// At most this many tasks of an array run at once (`--array=0-N%P`).
    pub array_parallelism: Option<usize>,
    pub account: Option<String>,
    /// Further `sbatch` options, one per entry (`--qos=long`), written as `#SBATCH` lines.
    pub sbatch_args: Vec<String>,
    /// Seconds before the time limit (or at preemption) at which Slurm sends the warning
    /// signal: the task finishes and commits its epoch, then requeues itself.
    pub signal_lead_seconds: u64,
}

impl Default for SlurmOptions {
    fn default() -> Self {
        Self {
            partition: None,
            time: None,
            cpus_per_task: None,
            mem: None,
            gres: None,
            array_parallelism: None,
            account: None,
            sbatch_args: Vec::new(),
            // An epoch of the paper's largest model at 100 px takes minutes on a few cores.
            signal_lead_seconds: 300,
        }
    }
}

impl SlurmOptions {
    /// Refuses values that would break the batch script (a line break ends an `#SBATCH`
    /// line and starts a shell command).
    pub fn validate(&self) -> Result<()> {
        let mut values: Vec<(&str, &str)> = Vec::new();
        for (flag, v) in [
            ("--partition", &self.partition),
            ("--time", &self.time),
            ("--mem", &self.mem),
            ("--gres", &self.gres),
            ("--account", &self.account),
        ] {
            if let Some(v) = v {
                values.push((flag, v));
            }
        }
        for a in &self.sbatch_args {
            values.push(("--sbatch-arg", a));
        }
        for (flag, v) in values {
            if v.trim().is_empty() || v.contains(['\n', '\r', '\0']) {
                bail!("{flag} {v:?}: an empty value or one with a line break cannot go into a batch script");
            }
        }
        if self.cpus_per_task == Some(0) {
            bail!("--cpus-per-task 0: a task needs at least one CPU");
        }
        Ok(())
    }

    /// The `#SBATCH` lines of the resources (the array, logs and signal are the script's).
    pub fn directives(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut push = |flag: &str, v: &Option<String>| {
            if let Some(v) = v {
                lines.push(format!("#SBATCH --{flag}={v}"));
            }
        };
        push("partition", &self.partition);
        push("account", &self.account);
        push("time", &self.time);
        push("cpus-per-task", &self.cpus_per_task.map(|c| c.to_string()));
        push("mem", &self.mem);
        push("gres", &self.gres);
        for a in &self.sbatch_args {
            lines.push(format!("#SBATCH {a}"));
        }
        lines
    }

    /// The same options as command-line flags of `reproduce` (for the commands we print).
    pub fn as_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        let mut push = |flag: &str, v: Option<String>| {
            if let Some(v) = v {
                flags.push(format!("--{flag}"));
                flags.push(v);
            }
        };
        push("partition", self.partition.clone());
        push("time", self.time.clone());
        push("cpus-per-task", self.cpus_per_task.map(|c| c.to_string()));
        push("mem", self.mem.clone());
        push("gres", self.gres.clone());
        push(
            "array-parallelism",
            self.array_parallelism.map(|p| p.to_string()),
        );
        push("account", self.account.clone());
        for a in &self.sbatch_args {
            flags.push(format!("--sbatch-arg={a}"));
        }
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_sbatch_lines_and_bad_values_are_refused() {
        let o = SlurmOptions {
            partition: Some("gpu".into()),
            time: Some("04:00:00".into()),
            cpus_per_task: Some(4),
            gres: Some("gpu:1".into()),
            sbatch_args: vec!["--qos=long".into()],
            ..Default::default()
        };
        o.validate().unwrap();
        assert_eq!(
            o.directives(),
            vec![
                "#SBATCH --partition=gpu",
                "#SBATCH --time=04:00:00",
                "#SBATCH --cpus-per-task=4",
                "#SBATCH --gres=gpu:1",
                "#SBATCH --qos=long",
            ]
        );
        assert!(SlurmOptions::default().directives().is_empty());
        let hostile = SlurmOptions {
            partition: Some("gpu\nrm -rf ~".into()),
            ..Default::default()
        };
        let e = hostile.validate().unwrap_err().to_string();
        assert!(e.contains("--partition") && e.contains("line break"), "{e}");
        let zero = SlurmOptions {
            cpus_per_task: Some(0),
            ..Default::default()
        };
        assert!(zero.validate().is_err());
    }
}
