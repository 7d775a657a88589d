//! `Metric`: the five evaluation numbers a run reports (paper Section 4.4, eqs. 17-22).
//!
//! ACC_total (eq. 17), ACC_average = macro recall (eq. 18, the paper's primary indicator),
//! F1 from macro precision and macro recall (eq. 19, the paper's "F1" column), the usual
//! macro-F1 (mean of per-class F1; not in the paper, reported because eq. 19 is easily
//! mistaken for it) and NRMSE for landmarks (eq. 22, eye-distance normalised, lower is
//! better). One enum keeps the JSON field, the CSV column stem and the table header in one
//! place, so the three can never disagree.

use std::fmt;
use std::str::FromStr;

use crate::report_error::ReportError;
use crate::run_result::MetricSet;

/// One of the five reported metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Eq. 17: fraction of correctly classified samples.
    AccTotal,
    /// Eq. 18: macro recall (mean per-class accuracy).
    AccAverage,
    /// Eq. 19: harmonic mean of macro precision and macro recall.
    F1Eq19,
    /// Mean of per-class F1 scores (not in the paper).
    MacroF1,
    /// Eq. 22: landmark error normalised by the inter-ocular distance.
    Nrmse,
}

impl Metric {
    /// All metrics in the column order of the paper's Tables 3/4 (macro-F1 inserted after F1).
    pub const ALL: [Metric; 5] = [
        Metric::AccTotal,
        Metric::AccAverage,
        Metric::F1Eq19,
        Metric::MacroF1,
        Metric::Nrmse,
    ];

    /// The JSON field name in `metrics.json` and the stem of the summary columns
    /// (`<key>_mean`, `<key>_std`).
    pub fn key(self) -> &'static str {
        match self {
            Metric::AccTotal => "acc_total",
            Metric::AccAverage => "acc_average",
            Metric::F1Eq19 => "f1_eq19",
            Metric::MacroF1 => "macro_f1",
            Metric::Nrmse => "nrmse",
        }
    }

    /// The column header used in Markdown tables and chart axes.
    pub fn header(self) -> &'static str {
        match self {
            Metric::AccTotal => "ACC_total",
            Metric::AccAverage => "ACC_average",
            Metric::F1Eq19 => "F1 (eq. 19)",
            Metric::MacroF1 => "macro-F1",
            Metric::Nrmse => "NRMSE",
        }
    }

    /// Summary column holding the mean over runs.
    pub fn mean_column(self) -> String {
        format!("{}_mean", self.key())
    }

    /// Summary column holding the sample standard deviation over runs.
    pub fn std_column(self) -> String {
        format!("{}_std", self.key())
    }

    /// The value of this metric in one split's metric set.
    pub fn get(self, set: &MetricSet) -> Option<f64> {
        match self {
            Metric::AccTotal => set.acc_total,
            Metric::AccAverage => set.acc_average,
            Metric::F1Eq19 => set.f1_eq19,
            Metric::MacroF1 => set.macro_f1,
            Metric::Nrmse => set.nrmse,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for Metric {
    type Err = ReportError;

    /// Accepts the key (`acc_total`) with or without a `_mean` suffix, so a summary column name
    /// can be passed straight through.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = s.strip_suffix("_mean").unwrap_or(s);
        Metric::ALL
            .into_iter()
            .find(|m| m.key() == key)
            .ok_or_else(|| ReportError::UnknownMetric {
                metric: s.to_string(),
                expected: Metric::ALL.map(Metric::key).join(", "),
            })
    }
}
