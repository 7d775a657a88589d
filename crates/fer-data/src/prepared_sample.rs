//! One row of a prepared cache's `samples.csv`: the aligned image, its label, subject and
//! split, where it came from, whether its box was the fallback, the face box in the source
//! image, and the 68 landmarks in the aligned image's pixel-index coordinates.
//!
//! The cache format that crosses from the face pipeline of paper 4.3 (crate fer-face, which writes
//! the cache) to fer-data's importer `formats::prepared_cache` (which reads it).

use std::io::Write;
use std::path::Path;

use crate::error::{DataError, Result};
use crate::face_box::FaceBox;
use crate::{Expression, Landmarks68, SplitHint, NUM_LANDMARKS};

/// File name of the sample list inside a prepared cache.
pub const PREPARED_SAMPLES_CSV: &str = "samples.csv";

#[derive(Debug, Clone, PartialEq)]
pub struct PreparedSample {
    /// Aligned PNG, relative to the cache folder.
    pub image: String,
    pub expression: Expression,
    pub subject: String,
    pub split: Option<SplitHint>,
    /// The record id in the source dataset.
    pub source: String,
    /// True when the detector found no face and the fallback box was used.
    pub fallback: bool,
    /// The detector's probability (empty for fallbacks).
    pub score: Option<f32>,
    /// The face box in the source image.
    pub face: FaceBox,
    pub landmarks: Landmarks68,
}

fn split_name(s: Option<SplitHint>) -> &'static str {
    match s {
        Some(SplitHint::Train) => "train",
        Some(SplitHint::Validation) => "validation",
        Some(SplitHint::Test) => "test",
        None => "",
    }
}

fn parse_split(text: &str) -> std::result::Result<Option<SplitHint>, String> {
    match text {
        "" => Ok(None),
        "train" => Ok(Some(SplitHint::Train)),
        "validation" => Ok(Some(SplitHint::Validation)),
        "test" => Ok(Some(SplitHint::Test)),
        other => Err(format!(
            "split '{other}' is none of train, validation, test or empty"
        )),
    }
}

const FIXED_COLUMNS: [&str; 11] = [
    "image",
    "label",
    "subject",
    "split",
    "source",
    "fallback",
    "score",
    "box_left",
    "box_top",
    "box_right",
    "box_bottom",
];

/// The header line of `samples.csv`.
pub fn prepared_samples_header() -> String {
    let mut cols: Vec<String> = FIXED_COLUMNS.iter().map(|c| c.to_string()).collect();
    cols.extend((0..NUM_LANDMARKS).map(|i| format!("x_{i}")));
    cols.extend((0..NUM_LANDMARKS).map(|i| format!("y_{i}")));
    cols.join(",")
}

impl PreparedSample {
    /// Text fields must not hold a comma, quote or line break: the file is plain CSV.
    pub fn check_text_field(value: &str, what: &str) -> std::result::Result<(), String> {
        if value.contains([',', '"', '\n', '\r']) {
            Err(format!(
                "{what} '{value}' contains a comma, quote or line break, which samples.csv cannot hold"
            ))
        } else {
            Ok(())
        }
    }

    fn to_line(&self) -> String {
        let mut f: Vec<String> = vec![
            self.image.clone(),
            self.expression.name().to_string(),
            self.subject.clone(),
            split_name(self.split).to_string(),
            self.source.clone(),
            u8::from(self.fallback).to_string(),
            self.score.map(|s| format!("{s:.5}")).unwrap_or_default(),
            format!("{:.3}", self.face.left),
            format!("{:.3}", self.face.top),
            format!("{:.3}", self.face.right),
            format!("{:.3}", self.face.bottom),
        ];
        f.extend(self.landmarks.points.iter().map(|p| format!("{:.3}", p[0])));
        f.extend(self.landmarks.points.iter().map(|p| format!("{:.3}", p[1])));
        f.join(",")
    }

    /// Writes the samples to `path` (header first).
    pub fn write_csv(samples: &[PreparedSample], path: &Path) -> Result<()> {
        let file = std::fs::File::create(path).map_err(|e| DataError::io(path, e))?;
        let mut w = std::io::BufWriter::new(file);
        let mut write = || -> std::io::Result<()> {
            writeln!(w, "{}", prepared_samples_header())?;
            for s in samples {
                writeln!(w, "{}", s.to_line())?;
            }
            w.flush()
        };
        write().map_err(|e| DataError::io(path, e))
    }

    /// Reads a `samples.csv`; every error names the file and line.
    pub fn read_csv(path: &Path) -> Result<Vec<PreparedSample>> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        let mut lines = text.lines().enumerate();
        let header = lines
            .next()
            .map(|(_, h)| h.trim().to_string())
            .ok_or_else(|| DataError::parse(path, 1, "empty file, expected a header line"))?;
        if header != prepared_samples_header() {
            return Err(DataError::parse(
                path,
                1,
                "the header is not that of a prepared cache (image,label,subject,split,source,fallback,score,box_*,x_0..x_67,y_0..y_67); prepare the dataset again",
            ));
        }
        let n_cols = FIXED_COLUMNS.len() + 2 * NUM_LANDMARKS;
        let mut out = Vec::new();
        for (idx, line) in lines {
            let line_no = idx + 1;
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() != n_cols {
                return Err(DataError::parse(
                    path,
                    line_no,
                    format!("{} fields, the header has {n_cols}", fields.len()),
                ));
            }
            let err = |m: String| DataError::parse(path, line_no, m);
            let num = |i: usize| -> Result<f32> {
                fields[i].parse::<f32>().map_err(|_| {
                    err(format!(
                        "column {}: '{}' is not a number",
                        column_name(i),
                        fields[i]
                    ))
                })
            };
            let expression: Expression = fields[1]
                .parse()
                .map_err(|e: DataError| err(e.to_string()))?;
            let split = parse_split(fields[3]).map_err(err)?;
            let fallback = match fields[5] {
                "0" => false,
                "1" => true,
                other => return Err(err(format!("fallback '{other}' is neither 0 nor 1"))),
            };
            let score = if fields[6].is_empty() {
                None
            } else {
                Some(num(6)?)
            };
            let face = FaceBox::new(num(7)?, num(8)?, num(9)?, num(10)?);
            let mut points = [[0.0f32; 2]; NUM_LANDMARKS];
            for (i, p) in points.iter_mut().enumerate() {
                *p = [
                    num(FIXED_COLUMNS.len() + i)?,
                    num(FIXED_COLUMNS.len() + NUM_LANDMARKS + i)?,
                ];
            }
            out.push(PreparedSample {
                image: fields[0].to_string(),
                expression,
                subject: fields[2].to_string(),
                split,
                source: fields[4].to_string(),
                fallback,
                score,
                face,
                landmarks: Landmarks68::new(points),
            });
        }
        Ok(out)
    }
}

fn column_name(i: usize) -> String {
    let fixed = FIXED_COLUMNS.len();
    if i < fixed {
        FIXED_COLUMNS[i].to_string()
    } else if i < fixed + NUM_LANDMARKS {
        format!("x_{}", i - fixed)
    } else {
        format!("y_{}", i - fixed - NUM_LANDMARKS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(i: usize) -> PreparedSample {
        let mut points = [[0.0f32; 2]; NUM_LANDMARKS];
        for (k, p) in points.iter_mut().enumerate() {
            *p = [k as f32 * 0.5 + i as f32, 100.0 - k as f32];
        }
        PreparedSample {
            image: format!("images/anger/S00{i}.png"),
            expression: Expression::Anger,
            subject: format!("S00{i}"),
            split: if i == 0 { None } else { Some(SplitHint::Test) },
            source: format!("anger/S00{i}.png"),
            fallback: i == 1,
            score: if i == 1 { None } else { Some(0.99) },
            face: FaceBox::new(1.5, 2.0, 40.25, 47.0),
            landmarks: Landmarks68::new(points),
        }
    }

    #[test]
    fn round_trips_and_names_the_line_of_a_bad_row() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("prepared_sample_{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
        let path = dir.join(PREPARED_SAMPLES_CSV);
        let samples = vec![sample(0), sample(1)];
        PreparedSample::write_csv(&samples, &path)?;
        assert_eq!(PreparedSample::read_csv(&path)?, samples);

        let text = std::fs::read_to_string(&path).map_err(|e| DataError::io(&path, e))?;
        let broken = text.replacen(",anger,", ",anger,extra,", 2);
        std::fs::write(&path, broken).map_err(|e| DataError::io(&path, e))?;
        let err = PreparedSample::read_csv(&path).unwrap_err().to_string();
        assert!(err.contains("samples.csv:2:"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }
}
