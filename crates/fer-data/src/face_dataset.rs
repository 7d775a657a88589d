//! A dataset decoded into memory at the model's input size: grayscale pixels, label index,
//! subject and landmarks (in the pixel-index coordinates of the resized image). Images that do
//! not decode are skipped and listed (`FaceDataset::skipped`), never ending the load.

use rayon::prelude::*;
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::gray_f32::GrayF32;
use crate::manifest::{DatasetFormat, Manifest};
use crate::record::{Record, SplitHint};
use crate::skipped_image::SkippedImage;
use crate::synthetic::{self, SynthSample};
use crate::{Expression, Landmarks68};

/// One decoded sample.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceSample {
    pub id: String,
    pub subject: String,
    pub expression: Expression,
    /// Index of `expression` in the dataset's class list.
    pub label: usize,
    pub split_hint: Option<SplitHint>,
    pub image: GrayF32,
    pub landmarks: Option<Landmarks68>,
}

/// All samples of a dataset, decoded, at one square size.
#[derive(Debug, Clone)]
pub struct FaceDataset {
    pub name: String,
    pub classes: Vec<Expression>,
    pub size: usize,
    pub samples: Vec<FaceSample>,
    /// Images the importer listed that could not be decoded, in record order.
    pub skipped: Vec<SkippedImage>,
    /// Images whose stored size is not the `image_size` their manifest declares: (id, width,
    /// height), in record order. They are resized like every other image; the runner says how
    /// many, so that a stray image of another dataset is not used unnoticed.
    pub off_size: Vec<(String, u32, u32)>,
}

/// Maps pixel-index coordinates from an image of side `from` to one of side `to`
/// (pixel centres: x' = (x + 0.5) * to / from - 0.5).
pub fn rescale_landmarks(l: &Landmarks68, from: (u32, u32), to: (u32, u32)) -> Landmarks68 {
    let sx = to.0 as f32 / from.0 as f32;
    let sy = to.1 as f32 / from.1 as f32;
    let mut points = l.points;
    for p in points.iter_mut() {
        p[0] = (p[0] + 0.5) * sx - 0.5;
        p[1] = (p[1] + 0.5) * sy - 0.5;
    }
    Landmarks68::new(points)
}

fn to_size(img: image::GrayImage, size: u32) -> image::GrayImage {
    if img.width() == size && img.height() == size {
        img
    } else {
        image::imageops::resize(&img, size, size, image::imageops::FilterType::Triangle)
    }
}

/// One decoded sample: `img` resized to `size`, the landmarks moved with the pixels, the
/// label looked up in `classes`.
/// A landmark outside its image (beyond the outer pixel edges, pixel-index convention) is an
/// error naming the landmark source, the image and the point.
fn check_inside(m: &Manifest, r: &Record, l: &Landmarks68, (w, h): (u32, u32)) -> Result<()> {
    let inside = |v: f32, n: u32| (-0.5..=n as f32 - 0.5).contains(&v);
    let Some((i, p)) = l
        .points
        .iter()
        .enumerate()
        .find(|(_, p)| !inside(p[0], w) || !inside(p[1], h))
    else {
        return Ok(());
    };
    let source = m
        .landmarks_csv
        .as_ref()
        .or(m.landmarks_openface_dir.as_ref())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the landmarks".into());
    Err(DataError::Config(format!(
        "{source}: point {i} of '{}' ({:.2}, {:.2}) lies outside its {w}x{h} image; if this \
         dataset has such points, set landmarks_outside_image: true in the manifest{}",
        r.id,
        p[0],
        p[1],
        m.source
            .as_ref()
            .map(|s| format!(" ({})", s.display()))
            .unwrap_or_default()
    )))
}

fn sample_of(
    r: &Record,
    img: image::GrayImage,
    size: u32,
    classes: &[Expression],
) -> Result<FaceSample> {
    let from = (img.width(), img.height());
    let img = to_size(img, size);
    let label = classes
        .iter()
        .position(|c| *c == r.expression)
        .ok_or_else(|| {
            let origin = r
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| r.id.clone());
            DataError::Config(format!(
                "{origin}: expression '{}' is not in the class list",
                r.expression
            ))
        })?;
    Ok(FaceSample {
        id: r.id.clone(),
        subject: r.subject.clone(),
        expression: r.expression,
        label,
        split_hint: r.split_hint,
        image: GrayF32::from_gray(&img),
        landmarks: r
            .landmarks
            .map(|l| rescale_landmarks(&l, from, (size, size))),
    })
}

impl FaceDataset {
    /// Loads the dataset a manifest describes at `size` x `size` pixels. `root` overrides the
    /// manifest's root (the `--data-root` flag). SynthFER is rendered with the manifest's
    /// settings at `size`, with `seed` replacing the manifest's seed when given. Data on disk
    /// passes `Manifest::check_available` first, so a missing copy fails with its message.
    /// Image folders, RAF-DB basic (aligned by its authors) and the FER2013 CSV load directly;
    /// the raw-frame layouts (SFEW 2.0, CK+ original, Oulu-CASIA) fail with
    /// `DataError::NeedsPreparation`, which names `cargo xtask prepare <name>`.
    pub fn load(
        manifest: &Manifest,
        root: Option<&Path>,
        size: u32,
        seed: Option<u64>,
    ) -> Result<Self> {
        match manifest.format {
            DatasetFormat::Synthetic => {
                let mut cfg = manifest.synthetic.clone().ok_or_else(|| {
                    DataError::Config(format!(
                        "manifest '{}' has no synthetic section",
                        manifest.name
                    ))
                })?;
                cfg.size = size;
                if let Some(s) = seed {
                    cfg.seed = s;
                }
                let samples = synthetic::generate(&cfg)?;
                Self::from_synthetic(&manifest.name, &manifest.classes, samples)
            }
            DatasetFormat::ImageFolder
            | DatasetFormat::ImageFolderSplits
            | DatasetFormat::RafDbBasic
            | DatasetFormat::Prepared => {
                let root = Self::available_root(manifest, root)?;
                let records = crate::formats::import_from(&root, manifest)?;
                Self::decode_records(
                    &manifest.name,
                    &manifest.classes,
                    &records,
                    size,
                    Some(manifest.image_size),
                    (!manifest.landmarks_outside_image).then_some(manifest),
                )
            }
            DatasetFormat::Fer2013Csv => {
                let root = Self::available_root(manifest, root)?;
                let csv = crate::formats::fer2013_csv::csv_path(&root);
                let rows = crate::formats::fer2013_csv::read_rows(&csv, manifest)?;
                Self::from_images(&manifest.name, &manifest.classes, rows, size)
            }
            // Raw video frames: the model's input is an aligned face (paper 4.3), which only the
            // prepare step (detection, landmarks, alignment) makes. A missing copy still gets
            // the availability message first.
            DatasetFormat::Sfew2 | DatasetFormat::CkplusOriginal | DatasetFormat::OuluCasia => {
                let root = Self::available_root(manifest, root)?;
                Err(DataError::NeedsPreparation {
                    manifest: manifest.source.clone(),
                    name: manifest.name.clone(),
                    layout: manifest.format.name(),
                    root,
                })
            }
        }
    }

    /// The root that the availability check resolves (`root` overrides the manifest's).
    fn available_root(manifest: &Manifest, root: Option<&Path>) -> Result<PathBuf> {
        manifest.check_available(root)?.ok_or_else(|| {
            DataError::Config(format!(
                "manifest '{}' ({}) has no root folder",
                manifest.name,
                manifest.format.name()
            ))
        })
    }

    /// Wraps SynthFER samples (rendered at the wanted size already).
    pub fn from_synthetic(
        name: &str,
        classes: &[Expression],
        samples: Vec<SynthSample>,
    ) -> Result<Self> {
        let size = samples
            .first()
            .map(|s| s.image.width() as usize)
            .unwrap_or(0);
        let samples = samples
            .into_iter()
            .map(|s| {
                let label = classes
                    .iter()
                    .position(|c| *c == s.expression)
                    .ok_or_else(|| {
                        DataError::Config(format!(
                            "expression '{}' of sample {} is not in the class list",
                            s.expression, s.id
                        ))
                    })?;
                Ok(FaceSample {
                    id: s.id,
                    subject: s.subject,
                    expression: s.expression,
                    label,
                    split_hint: None,
                    image: GrayF32::from_gray(&s.image),
                    landmarks: Some(s.landmarks),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            name: name.to_string(),
            classes: classes.to_vec(),
            size,
            samples,
            skipped: Vec::new(),
            off_size: Vec::new(),
        })
    }

    /// Decodes the records' images in parallel and resizes them to `size` (landmarks follow).
    /// An image that does not decode (corrupt, truncated, not an image) is skipped and listed
    /// in `skipped`; if every image fails, the load fails with the first one's message.
    /// A record without an image path or with an expression outside `classes` is an error.
    pub fn from_records(
        name: &str,
        classes: &[Expression],
        records: &[Record],
        size: u32,
    ) -> Result<Self> {
        Self::decode_records(name, classes, records, size, None, None)
    }

    /// `from_records`, listing in `off_size` the images that are not `declared` x `declared`,
    /// and, with a manifest that does not allow them, refusing landmarks outside their image.
    fn decode_records(
        name: &str,
        classes: &[Expression],
        records: &[Record],
        size: u32,
        declared: Option<u32>,
        landmark_check: Option<&Manifest>,
    ) -> Result<Self> {
        let decoded = records
            .par_iter()
            .map(|r| {
                let path = r.path.as_ref().ok_or_else(|| {
                    DataError::Config(format!("record {} has no image path", r.id))
                })?;
                match crate::image_file::decode_image_file(path) {
                    Ok(img) => {
                        let (w, h) = (img.width(), img.height());
                        if let (Some(m), Some(l)) = (landmark_check, &r.landmarks) {
                            check_inside(m, r, l, (w, h))?;
                        }
                        let off = declared.filter(|&d| w != d || h != d).map(|_| (w, h));
                        sample_of(r, img.into_luma8(), size, classes).map(|s| Ok((s, off)))
                    }
                    Err(reason) => Ok(Err(SkippedImage {
                        id: r.id.clone(),
                        path: path.clone(),
                        reason,
                    })),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let mut samples = Vec::with_capacity(decoded.len());
        let mut skipped = Vec::new();
        let mut off_size = Vec::new();
        for d in decoded {
            match d {
                Ok((s, off)) => {
                    if let Some((w, h)) = off {
                        off_size.push((s.id.clone(), w, h));
                    }
                    samples.push(s);
                }
                Err(s) => skipped.push(s),
            }
        }
        if samples.is_empty() {
            if let Some(first) = skipped.first() {
                return Err(DataError::Image {
                    path: first.path.clone(),
                    message: format!(
                        "{} (none of the {} images of '{name}' could be decoded)",
                        first.reason,
                        skipped.len()
                    ),
                });
            }
        }
        Ok(Self {
            name: name.to_string(),
            classes: classes.to_vec(),
            size: size as usize,
            samples,
            skipped,
            off_size,
        })
    }

    /// Builds the dataset from images already in memory (the FER2013 CSV's rows), resized to
    /// `size` as `from_records` does; the records' `path` is not read.
    pub fn from_images(
        name: &str,
        classes: &[Expression],
        rows: Vec<(Record, image::GrayImage)>,
        size: u32,
    ) -> Result<Self> {
        let samples = rows
            .into_par_iter()
            .map(|(r, img)| sample_of(&r, img, size, classes))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            name: name.to_string(),
            classes: classes.to_vec(),
            size: size as usize,
            samples,
            skipped: Vec::new(),
            off_size: Vec::new(),
        })
    }

    /// Faces with no label, for inference (`cargo xtask predict`): each `(id, image)` is
    /// resized to `size` as `from_records` does. The class list is empty and every label is
    /// 0 with the expression `neutral`; an evaluation loader reads neither, it only stacks the
    /// pixels, so the faces reach the model exactly as a test split does.
    pub fn unlabelled(name: &str, faces: Vec<(String, image::GrayImage)>, size: u32) -> Self {
        let samples = faces
            .into_par_iter()
            .map(|(id, img)| FaceSample {
                id,
                subject: String::new(),
                expression: Expression::Neutral,
                label: 0,
                split_hint: None,
                image: GrayF32::from_gray(&to_size(img, size)),
                landmarks: None,
            })
            .collect();
        Self {
            name: name.to_string(),
            classes: Vec::new(),
            size: size as usize,
            samples,
            skipped: Vec::new(),
            off_size: Vec::new(),
        }
    }

    /// Images that were listed but could not be decoded, with the reason.
    pub fn skipped(&self) -> &[SkippedImage] {
        &self.skipped
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Whether any sample has landmarks. FER2013 and other landmark-less datasets have none:
    /// FER-only models train on them, models with an FLD head cannot (the trainer checks).
    pub fn has_landmarks(&self) -> bool {
        self.samples.iter().any(|s| s.landmarks.is_some())
    }

    /// How many of the given samples have landmarks (e.g. of a training split).
    pub fn count_with_landmarks(&self, indices: &[usize]) -> usize {
        indices
            .iter()
            .filter(|&&i| self.samples.get(i).is_some_and(|s| s.landmarks.is_some()))
            .count()
    }

    pub fn subjects(&self) -> Vec<String> {
        self.samples.iter().map(|s| s.subject.clone()).collect()
    }

    pub fn split_hints(&self) -> Vec<Option<SplitHint>> {
        self.samples.iter().map(|s| s.split_hint).collect()
    }

    /// Names of the classes, in label order.
    pub fn class_names(&self) -> Vec<String> {
        self.classes.iter().map(|c| c.name().to_string()).collect()
    }

    /// Number of samples per label.
    pub fn class_counts(&self, indices: &[usize]) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for &i in indices {
            counts[self.samples[i].label] += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_keeps_pixel_centres() {
        let mut pts = [[0.0f32; 2]; 68];
        pts[0] = [0.0, 47.0];
        pts[1] = [23.5, 23.5];
        let l = rescale_landmarks(&Landmarks68::new(pts), (48, 48), (96, 96));
        assert_eq!(l.points[0], [0.5, 94.5]);
        assert_eq!(l.points[1], [47.5, 47.5]);
    }
}
