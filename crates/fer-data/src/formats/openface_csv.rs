//! Reader of OpenFace 2.0 landmark CSVs, the tool the paper uses for its FLD labels (paper 4.3).
//! Two outputs share the reader: `FeatureExtraction` (one row per frame and face: `frame,
//! face_id, timestamp, confidence, success, ..., x_0..x_67, y_0..y_67, ...`) and
//! `FaceLandmarkImg` (one row per detected face: `face, confidence, ..., x_0.., y_0..`).
//! OpenFace writes its headers with a space after each comma (`frame, face_id, ...`), so column
//! names are trimmed. Only the 2D points `x_i`/`y_i` (pixel-index coordinates of the image, the
//! convention of ARCHITECTURE.md "Conventions") are read: the 3D `X_i`, the eye points
//! `eye_lmk_x_i` and the rest are other columns.

use std::path::Path;

use crate::error::{DataError, Result};
use crate::{Landmarks68, NUM_LANDMARKS};

/// One face (row) of an OpenFace CSV.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenFaceFace {
    /// The 1-based line of the row in its file.
    pub line: usize,
    /// `frame` (FeatureExtraction) when present.
    pub frame: Option<u64>,
    /// `face_id` (FeatureExtraction) or `face` (FaceLandmarkImg) when present.
    pub face: Option<u64>,
    /// The landmark detector's confidence in [0, 1]; 1 when the file has no such column.
    pub confidence: f32,
    /// Whether OpenFace tracked the face; true when the file has no `success` column
    /// (FaceLandmarkImg writes only faces it found). Points of failed rows are zeros.
    pub success: bool,
    pub landmarks: Landmarks68,
}

/// Reads every row of an OpenFace CSV. An empty file (or one with only a header) has no faces,
/// as OpenFace leaves it when it finds none. A header without all of `x_0..x_67`/`y_0..y_67`,
/// a row whose number of fields differs from the header's, or a field of `frame`, `face_id`,
/// `face`, `confidence`, `success`, `x_i`, `y_i` that is not a number is a `DataError::Parse`
/// naming the file and line.
pub fn read_openface_csv(path: &Path) -> Result<Vec<OpenFaceFace>> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let mut lines = text.lines().enumerate();
    let Some((header_idx, header)) = lines.find(|(_, l)| !l.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let header_line = header_idx + 1;
    let columns: Vec<&str> = header
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(str::trim)
        .collect();
    let find = |name: &str| columns.iter().position(|c| *c == name);
    let mut xs_cols = Vec::with_capacity(NUM_LANDMARKS);
    let mut ys_cols = Vec::with_capacity(NUM_LANDMARKS);
    for i in 0..NUM_LANDMARKS {
        for (axis, cols) in [("x", &mut xs_cols), ("y", &mut ys_cols)] {
            let name = format!("{axis}_{i}");
            cols.push(find(&name).ok_or_else(|| {
                DataError::parse(
                    path,
                    header_line,
                    format!(
                        "no `{name}` column: an OpenFace CSV has the 2D landmarks x_0..x_67 and y_0..y_67"
                    ),
                )
            })?);
        }
    }
    let frame_col = find("frame");
    let face_col = find("face_id").or_else(|| find("face"));
    let confidence_col = find("confidence");
    let success_col = find("success");

    let mut faces = Vec::new();
    for (idx, line) in lines {
        let line_no = idx + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != columns.len() {
            return Err(DataError::parse(
                path,
                line_no,
                format!(
                    "{} fields, the header (line {header_line}) has {}",
                    fields.len(),
                    columns.len()
                ),
            ));
        }
        // NaN, inf and values beyond f32 are refused, as the landmark CSV reader does: a
        // non-finite landmark would reach the alignment and the FLD loss as NaN.
        let number = |c: usize| -> Result<f64> {
            match fields[c].parse::<f64>() {
                Ok(v) if v.is_finite() && v.abs() <= f64::from(f32::MAX) => Ok(v),
                _ => Err(DataError::parse(
                    path,
                    line_no,
                    format!(
                        "column `{}`: '{}' is not a finite number",
                        columns[c], fields[c]
                    ),
                )),
            }
        };
        let index = |c: Option<usize>| -> Result<Option<u64>> {
            c.map(|c| number(c).map(|v| v as u64)).transpose()
        };
        let frame = index(frame_col)?;
        let face = index(face_col)?;
        let confidence = match confidence_col {
            Some(c) => number(c)? as f32,
            None => 1.0,
        };
        let success = match success_col {
            Some(c) => number(c)? != 0.0,
            None => true,
        };
        let mut points = [[0.0f32; 2]; NUM_LANDMARKS];
        for (i, p) in points.iter_mut().enumerate() {
            *p = [number(xs_cols[i])? as f32, number(ys_cols[i])? as f32];
        }
        faces.push(OpenFaceFace {
            line: line_no,
            frame,
            face,
            confidence,
            success,
            landmarks: Landmarks68::new(points),
        });
    }
    Ok(faces)
}

/// The face to label an image with: the successful one with the highest confidence (a
/// FaceLandmarkImg file lists every face it found; the dataset's face is the clearest one).
pub fn best_face(faces: &[OpenFaceFace]) -> Option<&OpenFaceFace> {
    faces
        .iter()
        .filter(|f| f.success)
        .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
}
