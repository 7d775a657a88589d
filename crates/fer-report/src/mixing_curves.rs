//! `MixingCurves` / `read_mixing_curves`: the mixing parameters of a run over its training
//! steps, read from the trainer's `steps.csv`; the data behind the paper's Fig. 3 ("The curve
//! of the parameter β with the number of iterations", Section 5.6).
//!
//! The trainer writes one row per parameter update: `step,epoch,lr,loss_total,loss_fer,
//! loss_fld`, then one column per mixing parameter, named `co_att.<i>.{alpha,beta}{1,2}` for
//! the Co-ATT units of CMCNN (eq. 1) or `cross_stitch.<layer>.{ee,el,le,ll}` for the
//! cross-stitch baseline. Columns are found by name, not position, so a trainer that adds a
//! loss column does not silently shift every curve.

use std::path::{Path, PathBuf};

use crate::report_error::{ReportError, Result};

/// Name prefixes of the columns that hold mixing parameters.
const MIXING_PREFIXES: [&str; 2] = ["co_att.", "cross_stitch."];

/// Mixing-parameter values of one run, one entry per training step (file order).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MixingCurves {
    /// Global step (1-based count of parameter updates) of each row.
    pub steps: Vec<u64>,
    /// Epoch (1-based) of each row.
    pub epochs: Vec<u32>,
    /// `(column name, value per row)` for every mixing-parameter column, in file order.
    pub series: Vec<(String, Vec<f64>)>,
}

impl MixingCurves {
    /// The last step of `epoch` (1-based, as in `steps.csv` and `metrics.json`'s
    /// `best_epoch`): the step at which the model that was validated after that epoch had
    /// been trained, i.e. where Fig. 3's green "best on validation" line belongs.
    /// `None` if no row belongs to `epoch`.
    pub fn last_step_of_epoch(&self, epoch: usize) -> Option<u64> {
        self.steps
            .iter()
            .zip(&self.epochs)
            .filter(|(_, &e)| e as usize == epoch)
            .map(|(&s, _)| s)
            .max()
    }

    /// The values of the column `name` (e.g. `co_att.5.beta1`), if present.
    pub fn series(&self, name: &str) -> Option<&[f64]> {
        self.series
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The units (`co_att.0`, `cross_stitch.fc1`, ...) in order of first appearance.
    pub fn units(&self) -> Vec<String> {
        let mut units: Vec<String> = Vec::new();
        for (name, _) in &self.series {
            let (unit, _) = split_parameter(name);
            if !units.iter().any(|u| u == unit) {
                units.push(unit.to_string());
            }
        }
        units
    }

    /// The parameter kinds (`alpha1`, `beta2`, `ee`, ...) in order of first appearance.
    pub fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = Vec::new();
        for (name, _) in &self.series {
            let (_, kind) = split_parameter(name);
            if !kinds.iter().any(|k| k == kind) {
                kinds.push(kind.to_string());
            }
        }
        kinds
    }
}

/// Splits `co_att.3.beta1` into the unit `co_att.3` and the kind `beta1` at the last dot.
/// A name without a dot is its own unit with an empty kind.
pub(crate) fn split_parameter(name: &str) -> (&str, &str) {
    name.rsplit_once('.').unwrap_or((name, ""))
}

/// Reads a `steps.csv`: `step` and `epoch` of every row and every column after `loss_fld`
/// whose name starts with `co_att.` or `cross_stitch.`.
///
/// A model without mixing parameters (BaseDCNN) gives empty `series`. Errors name the file
/// and the 1-based line: a header without `step`, `epoch` or `loss_fld`, a repeated column,
/// a row with a different number of fields than the header, or a value that does not parse
/// (the column is named). Blank lines are skipped; `\r\n` line ends are accepted. Values are
/// kept as written, so a diverged run's `NaN` is read (and left out of the chart) rather than
/// rejected.
pub fn read_mixing_curves(path: &Path) -> Result<MixingCurves> {
    read_step_series(path, &MIXING_PREFIXES)
}

/// Reads the columns of a `steps.csv` whose names start with one of `prefixes`, as
/// [`read_mixing_curves`] reads the mixing parameters: the loss weighting's columns are
/// `weighting.fer`, `weighting.fld` and, for gradient methods, `gradients.cos`,
/// `gradients.norm_fer`, `gradients.norm_fld`.
pub fn read_step_series(path: &Path, prefixes: &[&str]) -> Result<MixingCurves> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        action: "read".into(),
        source,
    })?;
    parse(&text, path, prefixes)
}

fn parse(text: &str, path: &Path, prefixes: &[&str]) -> Result<MixingCurves> {
    let bad = |line: usize, message: String| ReportError::MalformedCsv {
        path: PathBuf::from(path),
        line,
        message,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((header_line, header)) = lines.next() else {
        return Err(bad(1, "empty file (no header)".into()));
    };
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let find = |name: &str| {
        columns
            .iter()
            .position(|c| *c == name)
            .ok_or_else(|| bad(header_line, format!("header has no `{name}` column")))
    };
    let step_col = find("step")?;
    let epoch_col = find("epoch")?;
    let first_mixing = find("loss_fld")? + 1;
    for (i, c) in columns.iter().enumerate() {
        if !c.is_empty() && columns[..i].contains(c) {
            return Err(bad(header_line, format!("column `{c}` appears twice")));
        }
    }
    let mixing: Vec<usize> = (first_mixing..columns.len())
        .filter(|&i| prefixes.iter().any(|p| columns[i].starts_with(p)))
        .collect();

    let mut curves = MixingCurves {
        series: mixing
            .iter()
            .map(|&i| (columns[i].to_string(), Vec::new()))
            .collect(),
        ..MixingCurves::default()
    };
    for (line, row) in lines {
        let fields: Vec<&str> = row.split(',').map(str::trim).collect();
        if fields.len() != columns.len() {
            return Err(bad(
                line,
                format!(
                    "{} fields, but the header has {} columns",
                    fields.len(),
                    columns.len()
                ),
            ));
        }
        let field = |i: usize| fields[i];
        let step = field(step_col).parse::<u64>().map_err(|e| {
            bad(
                line,
                format!("column `step`: `{}` is not a step: {e}", field(step_col)),
            )
        })?;
        let epoch = field(epoch_col).parse::<u32>().map_err(|e| {
            bad(
                line,
                format!(
                    "column `epoch`: `{}` is not an epoch: {e}",
                    field(epoch_col)
                ),
            )
        })?;
        curves.steps.push(step);
        curves.epochs.push(epoch);
        for (&i, (name, values)) in mixing.iter().zip(curves.series.iter_mut()) {
            let value = field(i).parse::<f64>().map_err(|e| {
                bad(
                    line,
                    format!("column `{name}`: `{}` is not a number: {e}", field(i)),
                )
            })?;
            values.push(value);
        }
    }
    Ok(curves)
}
