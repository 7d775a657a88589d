//! How long the rest of a campaign will take, from the epochs already measured: per
//! (dataset, method, input size) the mean seconds of an epoch (history.csv of finished and
//! interrupted runs) and the mean number of epochs a finished run took (early stopping, paper
//! 4.4, usually ends runs before their 50 epochs).

use crate::error::Result;
use std::collections::BTreeMap;
use std::path::Path;

use fer_train::TrainConfig;

/// What the finished epochs of one kind of run say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MethodTiming {
    /// Mean wall-clock seconds of one epoch (training and validation).
    pub epoch_seconds: f64,
    /// Epochs measured.
    pub epochs_measured: usize,
    /// Mean epochs of the finished runs (`None` before any has finished).
    pub epochs_per_run: Option<f64>,
}

/// The key runs share their timing under: dataset, method and input size.
pub fn timing_key(cfg: &TrainConfig) -> String {
    format!(
        "{}/{}/{}px",
        cfg.dataset,
        cfg.method_id(),
        cfg.model_config.input_size
    )
}

/// The key a method borrows its timing under while none of its own runs has an epoch: the
/// same dataset, model and input size (another method of the model, e.g. a loss weighting
/// timed by the model's fixed-λ runs).
pub fn model_timing_key(cfg: &TrainConfig) -> String {
    format!(
        "{}/model {}/{}px",
        cfg.dataset, cfg.model, cfg.model_config.input_size
    )
}

/// Epochs done and seconds per epoch in a run directory's history.csv (empty without one).
/// A time that is not a finite non-negative number (a hand-edited or damaged file) is left
/// out: an estimate only guides the schedule, and a NaN or infinite one would poison every
/// sum it enters.
pub fn history_seconds(dir: &Path) -> Vec<f64> {
    let Ok(text) = std::fs::read_to_string(dir.join("history.csv")) else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|l| l.rsplit(',').next()?.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .collect()
}

/// The measured timings of some runs, grouped two ways, from one read of their histories.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timings {
    /// By [`timing_key`]: the runs of one method.
    pub by_method: BTreeMap<String, MethodTiming>,
    /// By [`model_timing_key`]: every method of one model.
    pub by_model: BTreeMap<String, MethodTiming>,
}

/// What is left of one run, as the measured timings predict it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SecondsLeft {
    pub seconds: f64,
    /// Whether the run was timed by other methods of its model, none of its own having an
    /// epoch yet.
    pub borrowed: bool,
}

impl Timings {
    /// The seconds a run of `cfg` with `epochs_done` epochs behind it still needs: its method's
    /// epoch time, or its model's while the method has none. The epochs a run takes are its
    /// kind's finished runs' mean, else every finished run's mean, else `unknown_epochs` (the
    /// caller's choice: the dry run assumes the whole schedule, the executor one epoch, so
    /// that it starts what nothing can time yet). `None` when nothing times the run.
    pub fn seconds_left(
        &self,
        cfg: &TrainConfig,
        epochs_done: usize,
        unknown_epochs: f64,
    ) -> Option<SecondsLeft> {
        let own = self.by_method.get(&timing_key(cfg));
        let t = own.or_else(|| self.by_model.get(&model_timing_key(cfg)))?;
        let finished: Vec<f64> = self
            .by_method
            .values()
            .filter_map(|t| t.epochs_per_run)
            .collect();
        let per_run = t
            .epochs_per_run
            .or_else(|| {
                (!finished.is_empty()).then(|| finished.iter().sum::<f64>() / finished.len() as f64)
            })
            .unwrap_or(unknown_epochs)
            .min(cfg.max_epochs as f64);
        Some(SecondsLeft {
            seconds: (per_run - epochs_done as f64).max(1.0) * t.epoch_seconds,
            borrowed: own.is_none(),
        })
    }
}

/// The measured timings of the given runs (each run directory read once).
pub fn measured_timings<'a>(
    results: &Path,
    configs: impl Iterator<Item = &'a TrainConfig>,
) -> Result<Timings> {
    let mut by_method = Samples::default();
    let mut by_model = Samples::default();
    let mut seen = std::collections::BTreeSet::new();
    for cfg in configs {
        let dir = cfg.run_dir(results)?;
        if !seen.insert(dir.clone()) {
            continue;
        }
        let secs = history_seconds(&dir);
        let done = dir.join(fer_train::DONE_MARKER).is_file();
        by_method.add(timing_key(cfg), &secs, done);
        by_model.add(model_timing_key(cfg), &secs, done);
    }
    Ok(Timings {
        by_method: by_method.means(),
        by_model: by_model.means(),
    })
}

/// Epoch seconds and finished runs' epoch counts, per key.
#[derive(Default)]
struct Samples {
    seconds: BTreeMap<String, Vec<f64>>,
    epochs: BTreeMap<String, Vec<f64>>,
}

impl Samples {
    fn add(&mut self, key: String, secs: &[f64], done: bool) {
        if done {
            self.epochs
                .entry(key.clone())
                .or_default()
                .push(secs.len() as f64);
        }
        self.seconds.entry(key).or_default().extend_from_slice(secs);
    }

    fn means(self) -> BTreeMap<String, MethodTiming> {
        let mut out = BTreeMap::new();
        for (key, secs) in self.seconds {
            if secs.is_empty() {
                continue;
            }
            let runs = self.epochs.get(&key);
            out.insert(
                key,
                MethodTiming {
                    epoch_seconds: secs.iter().sum::<f64>() / secs.len() as f64,
                    epochs_measured: secs.len(),
                    epochs_per_run: runs
                        .filter(|e| !e.is_empty())
                        .map(|e| e.iter().sum::<f64>() / e.len() as f64),
                },
            );
        }
        out
    }
}

/// `1 h 05 min`, `12 min`, `40 s`.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human_duration(40.2), "40 s");
        assert_eq!(human_duration(725.0), "12 min");
        assert_eq!(human_duration(3900.0), "1 h 05 min");
    }

    #[test]
    fn timings_come_from_histories_and_finished_runs() {
        let root = std::env::temp_dir().join(format!("fer-estimate-{}", std::process::id()));
        let mut cfg = TrainConfig::paper("e", "d", "hps", "fold-0", 1);
        let dir = cfg.run_dir(&root).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        let header = "epoch,lr,a,b,c,d,e,f,g,h,i,seconds\n";
        std::fs::write(
            dir.join("history.csv"),
            format!("{header}1,0.01,,,,,,,,,,10.00\n2,0.01,,,,,,,,,,20.00\n"),
        )
        .unwrap();
        std::fs::write(dir.join("DONE"), "done\n").unwrap();
        cfg.seed = 2;
        let other = cfg.run_dir(&root).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(
            other.join("history.csv"),
            format!("{header}1,0.01,,,,,,,,,,30.00\n"),
        )
        .unwrap();
        let first = TrainConfig::paper("e", "d", "hps", "fold-0", 1);
        let t = measured_timings(&root, [&first, &cfg].into_iter()).unwrap();
        let hps = &t.by_method[&timing_key(&cfg)];
        assert_eq!(hps.epoch_seconds, 20.0);
        assert_eq!(hps.epochs_measured, 3);
        assert_eq!(hps.epochs_per_run, Some(2.0));
        // Another method of the model has none of its own, and borrows the model's.
        let mut weighted = first.clone();
        weighted.method = Some("hps-dwa".into());
        assert!(!t.by_method.contains_key(&timing_key(&weighted)));
        assert_eq!(t.by_model[&model_timing_key(&weighted)], *hps);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
