//! The batch scripts of a sweep, written under results/<experiment>/slurm/ so a user can read
//! (and rerun) exactly what was submitted: one array script per array (task `k` runs entry `k`
//! of its tasks file) and the report script that runs after the arrays.

use std::path::Path;

use super::array_split::array_range;
use super::slurm_options::SlurmOptions;
use super::RUN_PLANNED_COMMAND;

/// A word for the shell: unchanged when it is plain, else in single quotes.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+%@".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A value of an `#SBATCH` line: sbatch reads double quotes there (not single quotes).
fn directive_value(value: &str) -> String {
    if value.contains([' ', '\t', '"', '\'']) {
        format!("\"{}\"", value.replace('"', "\\\""))
    } else {
        value.to_string()
    }
}

/// What goes into one array script.
pub struct ArrayScript<'a> {
    /// `fer-<experiment>`.
    pub job_name: &'a str,
    /// One line per task, in task order (`ckplus48 hps fold-0 seed 1`).
    pub run_labels: &'a [String],
    pub options: &'a SlurmOptions,
    /// Where the task starts (the submitting shell's folder, so relative paths hold).
    pub workdir: &'a Path,
    /// The workspace whose experiments/ and data-manifests/ the task reads.
    pub workspace_root: &'a Path,
    /// The copy of the program the tasks run.
    pub program: &'a Path,
    pub tasks_file: &'a Path,
    pub log_dir: &'a Path,
    /// What submitted it, for the header.
    pub command: &'a str,
}

/// The text of an array script.
pub fn array_script(s: &ArrayScript<'_>) -> String {
    let mut out = vec![
        "#!/bin/bash".to_string(),
        format!("# Submitted by: {}", s.command),
        format!(
            "# Task k runs entry k of {} (cargo xtask {RUN_PLANNED_COMMAND}):",
            s.tasks_file.display()
        ),
    ];
    for (k, label) in s.run_labels.iter().enumerate() {
        out.push(format!("#   {k:>4}  {label}"));
    }
    out.extend([
        format!("#SBATCH --job-name={}", directive_value(s.job_name)),
        format!(
            "#SBATCH --array={}",
            array_range(s.run_labels.len(), s.options.array_parallelism)
        ),
        // %A is the array's job id and %a the task id: one pair of logs per task, appended
        // to when the task is requeued.
        format!(
            "#SBATCH --output={}",
            directive_value(&s.log_dir.join("%A_%a.out").to_string_lossy())
        ),
        format!(
            "#SBATCH --error={}",
            directive_value(&s.log_dir.join("%A_%a.err").to_string_lossy())
        ),
        "#SBATCH --open-mode=append".to_string(),
        "#SBATCH --requeue".to_string(),
        // B: sends the warning to the batch shell, which `exec` below makes the task itself.
        format!("#SBATCH --signal=B:USR1@{}", s.options.signal_lead_seconds),
        format!(
            "#SBATCH --chdir={}",
            directive_value(&s.workdir.to_string_lossy())
        ),
    ]);
    out.extend(s.options.directives());
    out.extend([
        String::new(),
        "# The kernels compute with the CPUs Slurm gave the task (every run records the count)."
            .to_string(),
        "export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"".to_string(),
        format!(
            "export FER_WORKSPACE_ROOT={}",
            shell_quote(&s.workspace_root.to_string_lossy())
        ),
        format!(
            "exec {} {RUN_PLANNED_COMMAND} --tasks {} --index \"$SLURM_ARRAY_TASK_ID\"",
            shell_quote(&s.program.to_string_lossy()),
            shell_quote(&s.tasks_file.to_string_lossy())
        ),
        String::new(),
    ]);
    out.join("\n")
}

/// What goes into the report script.
pub struct ReportScript<'a> {
    pub job_name: &'a str,
    pub options: &'a SlurmOptions,
    pub workdir: &'a Path,
    pub workspace_root: &'a Path,
    pub program: &'a Path,
    pub log_dir: &'a Path,
    /// The submitting command's arguments (after the program name); `--followup` is added.
    pub args: &'a [String],
}

/// The report job: after every task has ended (`afterany`, set by the submission), it writes
/// the report from the records and submits the runs that became plannable (the final runs of
/// tuned methods, once their grid is selected) and were never submitted.
pub fn report_script(s: &ReportScript<'_>) -> String {
    let mut out = vec![
        "#!/bin/bash".to_string(),
        "# Runs after the sweep's arrays (sbatch --dependency=afterany:<arrays>): writes the"
            .to_string(),
        "# report, then submits runs that became plannable and were never submitted.".to_string(),
        format!("#SBATCH --job-name={}", directive_value(s.job_name)),
        format!(
            "#SBATCH --output={}",
            directive_value(&s.log_dir.join("report_%j.out").to_string_lossy())
        ),
        format!(
            "#SBATCH --chdir={}",
            directive_value(&s.workdir.to_string_lossy())
        ),
    ];
    // The report needs no GPU and little time; it goes where the tasks go.
    let where_only = SlurmOptions {
        partition: s.options.partition.clone(),
        account: s.options.account.clone(),
        ..Default::default()
    };
    out.extend(where_only.directives());
    let mut command = vec![shell_quote(&s.program.to_string_lossy())];
    command.extend(
        s.args
            .iter()
            .filter(|a| *a != "--followup")
            .map(|a| shell_quote(a)),
    );
    command.push("--followup".into());
    out.extend([
        String::new(),
        format!(
            "export FER_WORKSPACE_ROOT={}",
            shell_quote(&s.workspace_root.to_string_lossy())
        ),
        format!("exec {}", command.join(" ")),
        String::new(),
    ]);
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("table4"), "table4");
        assert_eq!(shell_quote("--folds=0,3"), "--folds=0,3");
        assert_eq!(shell_quote("my dir/x"), "'my dir/x'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf ~)"), "'$(rm -rf ~)'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn the_array_script_runs_entry_k_with_the_given_resources() {
        let labels = vec![
            "synthfer hps fold-0 seed 1".to_string(),
            "synthfer hps fold-0 seed 2".to_string(),
        ];
        let options = SlurmOptions {
            partition: Some("debug".into()),
            cpus_per_task: Some(2),
            array_parallelism: Some(1),
            ..Default::default()
        };
        let text = array_script(&ArrayScript {
            job_name: "fer-demo",
            run_labels: &labels,
            options: &options,
            workdir: Path::new("/home/me/cmcnn"),
            workspace_root: Path::new("/home/me/cmcnn"),
            program: Path::new("/home/me/cmcnn/results/demo/slurm/bin/xtask-0123"),
            tasks_file: Path::new("/r/demo/slurm/tasks-1-1.json"),
            log_dir: Path::new("/r/demo/slurm/logs"),
            command: "cargo xtask reproduce demo --executor slurm",
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#!/bin/bash");
        for expected in [
            "#      0  synthfer hps fold-0 seed 1",
            "#      1  synthfer hps fold-0 seed 2",
            "#SBATCH --array=0-1%1",
            "#SBATCH --output=/r/demo/slurm/logs/%A_%a.out",
            "#SBATCH --error=/r/demo/slurm/logs/%A_%a.err",
            "#SBATCH --requeue",
            "#SBATCH --signal=B:USR1@300",
            "#SBATCH --partition=debug",
            "#SBATCH --cpus-per-task=2",
            "export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"",
            "exec /home/me/cmcnn/results/demo/slurm/bin/xtask-0123 run-planned --tasks /r/demo/slurm/tasks-1-1.json --index \"$SLURM_ARRAY_TASK_ID\"",
        ] {
            assert!(lines.contains(&expected), "missing {expected:?} in\n{text}");
        }
        // Every #SBATCH line comes before the first command (sbatch stops reading there).
        let first_command = lines.iter().position(|l| l.starts_with("export")).unwrap();
        assert!(lines[first_command..]
            .iter()
            .all(|l| !l.starts_with("#SBATCH")));
    }

    #[test]
    fn the_report_script_reruns_the_submission_as_a_followup() {
        let args: Vec<String> = ["reproduce", "my exp.yaml", "--executor", "slurm"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let text = report_script(&ReportScript {
            job_name: "fer-x-report",
            options: &SlurmOptions {
                partition: Some("p".into()),
                gres: Some("gpu:1".into()),
                ..Default::default()
            },
            workdir: Path::new("/w d"),
            workspace_root: Path::new("/w"),
            program: Path::new("/w/xtask"),
            log_dir: Path::new("/w/logs"),
            args: &args,
        });
        assert!(text.contains("#SBATCH --chdir=\"/w d\""), "{text}");
        assert!(text.contains("#SBATCH --partition=p"), "{text}");
        assert!(!text.contains("gres"), "the report needs no GPU: {text}");
        assert!(
            text.contains("exec /w/xtask reproduce 'my exp.yaml' --executor slurm --followup"),
            "{text}"
        );
    }
}
