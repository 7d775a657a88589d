//! `cargo xtask predict`: a trained model applied to a folder of photos or aligned faces,
//! written as one CSV row per face (the `score` layout) and, on request, a contact sheet.
//! Raw photos go through the face pipeline of paper 4.3 (MTCNN, 68 landmarks, the alignment
//! the model was trained with); the model half is the evaluation path of training
//! (`fer_train::predict_dataset` decodes batches as `evaluate` does).

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use fer_data::formats::record_image_loader::load_record_file;
use fer_data::{DatasetFormat, Expression, FaceDataset, Record};
use fer_face::align::{AlignmentTemplate, FaceAlignment};
use fer_face::fallback_box::FallbackBox;
use fer_face::mtcnn::Mtcnn;
use fer_face::photo_faces::faces_in_photos;
use fer_face::prepare::face_pipeline::{calibrate_fallback, detect_faces};
use fer_face::prepare::PrepareReport;
use fer_train::{FacePrediction, ModelSource, TrainedModel};

use crate::face_tools::{self, StageBars};
use crate::{face_models, workspace};

/// Predict expressions (and, for models with an FLD head, 68 landmarks) for every face in a
/// folder of images. `--model` is a finished run directory (config.yaml, best.safetensors) or
/// a folder written by import-reference (model_config.yaml, model.safetensors). One CSV row
/// per face: id, image, face index, status, box, detection probability, true label (with
/// --labels-from-folders), predicted label, one probability per class (prob_<class>) and the
/// predicted points in the original image's pixels (pred_x_0..67, pred_y_0..67; the empty
/// true_x/true_y columns keep the file in the `score` layout). Images without a face and
/// unreadable files get a row saying so and no labels, so `score` leaves them out.
#[derive(Args, Debug, Clone)]
pub struct PredictArgs {
    /// A finished run directory or an import-reference folder.
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// Folder of images (searched recursively).
    #[arg(long)]
    pub(crate) images: PathBuf,
    /// Output CSV (written to a temporary name and renamed when complete).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// The images are aligned faces at the model's input size: no detection or alignment.
    #[arg(long)]
    pub(crate) aligned: bool,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub(crate) device: String,
    /// Faces per model batch.
    #[arg(long, default_value_t = 64)]
    pub(crate) batch: usize,
    /// Draw a contact sheet of the first faces to this PNG (and an SVG beside it).
    #[arg(long)]
    pub(crate) sheet: Option<PathBuf>,
    /// Faces on the contact sheet.
    #[arg(long, default_value_t = 48)]
    pub(crate) sheet_faces: usize,
    /// The true label of each image is the name of its class subfolder (`happy/x.png`).
    #[arg(long)]
    pub(crate) labels_from_folders: bool,
    /// The model's class names, comma-separated, in its label order. Default: the classes of
    /// the run's dataset manifest; an imported model has none, so its columns are class_0...
    #[arg(long, value_delimiter = ',')]
    pub(crate) classes: Option<Vec<String>>,
    /// Alignment template for raw photos: a prepared cache folder or its prepare.json.
    /// Default: the template of the run's dataset when it is a prepared cache, else the
    /// detector's box resized to the input size.
    #[arg(long)]
    pub(crate) template: Option<PathBuf>,
    /// Face model folder (default: FER_MODELS, else models/).
    #[arg(long)]
    pub(crate) models: Option<PathBuf>,
    /// Images per detector batch.
    #[arg(long, default_value_t = 32)]
    pub(crate) detect_batch: usize,
}

/// One row of the output, before formatting.
struct FaceRow {
    id: String,
    image: String,
    face: Option<usize>,
    status: String,
    detection: Option<fer_face::FaceDetection>,
    true_label: Option<String>,
    prediction: Option<FacePrediction>,
    /// Maps the model's pixel coordinates back to the image's (raw photos).
    to_image: Option<fer_face::align::AffineTransform>,
}

impl FaceRow {
    /// The row of an image that gave no face: `status` says why.
    fn without_face(id: &str, status: String) -> Self {
        FaceRow {
            id: id.to_string(),
            image: id.to_string(),
            face: None,
            status,
            detection: None,
            true_label: None,
            prediction: None,
            to_image: None,
        }
    }
}

/// Text safe for a comma-separated field that `score` splits without quoting.
fn field(text: &str) -> String {
    text.replace([',', '\n', '\r'], ";")
}

/// Refuses an output whose folder does not exist, before any work is done.
fn check_output(path: &Path, what: &str) -> Result<()> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        bail!(
            "{what} {}: the folder {} does not exist",
            path.display(),
            parent.display()
        );
    }
    Ok(())
}

/// The model's class names: --classes, else the run's (its metrics.json, or its dataset
/// manifest), else class_<i>.
fn class_names(args: &PredictArgs, trained: &TrainedModel) -> Result<Vec<String>> {
    let n = trained.config.num_classes;
    let names = match (&args.classes, &trained.class_names, &trained.source) {
        (Some(c), _, _) => c.clone(),
        (None, Some(c), _) => c.clone(),
        (None, None, ModelSource::Run { dataset, .. }) => workspace::workspace()
            .load_manifest(dataset)
            .with_context(|| {
                format!(
                    "the class names of the run's dataset '{dataset}' (give them with --classes)"
                )
            })?
            .classes
            .iter()
            .map(|c| c.name().to_string())
            .collect(),
        (None, None, ModelSource::Imported) => (0..n).map(|i| format!("class_{i}")).collect(),
    };
    if names.len() != n {
        bail!(
            "{} class names ({}) for a model with {n} classes",
            names.len(),
            names.join(", ")
        );
    }
    Ok(names)
}

/// The prepare.json of the cache a run trained on, when it can be found: its manifest's root
/// for a manifest in data-manifests/, else `prepare`'s default folder, prepared/<dataset>/
/// (a run records the dataset's name, `<dataset>-prepared`, not the cache's path).
fn run_cache_json(dataset: &str) -> Option<PathBuf> {
    let ws = workspace::workspace();
    let from_manifest = ws
        .load_manifest(dataset)
        .ok()
        .filter(|m| m.format == DatasetFormat::Prepared)
        .and_then(|m| m.resolved_root());
    let default = dataset
        .strip_suffix("-prepared")
        .map(|base| workspace::root().join("prepared").join(base));
    [from_manifest, default]
        .into_iter()
        .flatten()
        .map(|root| root.join("prepare.json"))
        .find(|p| p.is_file())
}

/// Training images the dataset framing is calibrated on (evenly spaced over the dataset).
const FRAMING_CALIBRATION_IMAGES: usize = 200;

/// Where the detector's box sits in the images of a run's dataset of pre-cropped faces (an
/// image folder on this machine), as `prepare` calibrates its fallback box; `None` when the
/// dataset is not here or the detector finds too few faces in it.
fn dataset_framing(dataset: &str, detector: &Mtcnn) -> Option<FallbackBox> {
    let manifest = workspace::workspace().load_manifest(dataset).ok()?;
    let root = manifest.resolved_root()?;
    let all = face_tools::folder_records(&root).ok()?;
    let step = all.len().div_ceil(FRAMING_CALIBRATION_IMAGES).max(1);
    let records: Vec<Record> = all.into_iter().step_by(step).collect();
    let detected = detect_faces(detector, &records, &load_record_file, 64, &|_, _, _| {}).ok()?;
    let frame = calibrate_fallback(&detected);
    (frame.calibrated_on >= 20).then_some(frame)
}

/// The alignment of raw photos (see `--template`).
fn alignment(
    args: &PredictArgs,
    trained: &TrainedModel,
    detector: &Mtcnn,
) -> Result<FaceAlignment> {
    let size = trained.config.input_size as u32;
    let from_json = |path: &Path| -> Result<Option<AlignmentTemplate>> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the template {}", path.display()))?;
        let report: PrepareReport = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not a prepare.json of `cargo xtask prepare`",
                path.display()
            )
        })?;
        Ok(report.template)
    };
    let template = match (&args.template, &trained.source) {
        (Some(t), _) => {
            let json = if t.is_dir() {
                t.join("prepare.json")
            } else {
                t.clone()
            };
            Some(
                from_json(&json)?
                    .with_context(|| format!("{}: holds no alignment template", json.display()))?,
            )
        }
        (None, ModelSource::Run { dataset, .. }) => match run_cache_json(dataset) {
            Some(json) => from_json(&json)?,
            None => {
                if dataset.ends_with("-prepared") {
                    eprintln!(
                        "note: the run trained on the prepared cache '{dataset}', whose prepare.json is not where prepare puts it; give --template CACHE_FOLDER to align faces as it did"
                    );
                }
                None
            }
        },
        (None, ModelSource::Imported) => None,
    };
    let framing = match (&template, &trained.source) {
        (None, ModelSource::Run { dataset, .. }) if !dataset.ends_with("-prepared") => {
            dataset_framing(dataset, detector)
        }
        _ => None,
    };
    Ok(match (template, framing) {
        (Some(t), _) => FaceAlignment::Template(t),
        (None, Some(frame)) => FaceAlignment::DatasetFraming { size, frame },
        (None, None) => FaceAlignment::BoxCrop { size },
    }
    .at_size(size))
}

/// The class subfolder of an image id (`happy/x.png` -> `happiness` when `happy` spells one
/// of the classes, else the folder name as written).
fn folder_label(id: &str, classes: &[String]) -> Result<String> {
    let Some((folder, _)) = id.rsplit_once('/') else {
        bail!("--labels-from-folders: {id} is not in a class subfolder");
    };
    let folder = folder.rsplit('/').next().unwrap_or(folder);
    if classes.iter().any(|c| c == folder) {
        return Ok(folder.to_string());
    }
    Ok(match folder.parse::<Expression>() {
        Ok(e) if classes.iter().any(|c| c == e.name()) => e.name().to_string(),
        _ => folder.to_string(),
    })
}

fn model_bar(total: usize) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "model     {bar:40} {pos}/{len} [{elapsed}, {per_sec}, eta {eta}]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// What one `predict` did, for its closing line and for `bench predict`.
pub(crate) struct PredictSummary {
    pub images: usize,
    pub faces: usize,
    pub no_face: usize,
    pub unreadable: usize,
    /// From the first image read to the CSV written (model loading excluded).
    pub seconds: f64,
}

pub fn run(args: PredictArgs) -> Result<()> {
    let s = predict(&args)?;
    println!(
        "{} images: {} faces, {} without a face, {} unreadable; {:.1} images/s -> {}",
        s.images,
        s.faces,
        s.no_face,
        s.unreadable,
        s.images as f64 / s.seconds.max(1e-9),
        args.out.display()
    );
    Ok(())
}

/// The command's work; `run` adds the closing line.
pub(crate) fn predict(args: &PredictArgs) -> Result<PredictSummary> {
    check_output(&args.out, "--out")?;
    if let Some(s) = &args.sheet {
        check_output(s, "--sheet")?;
    }
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let records = face_tools::folder_records(&args.images)?;
    let device = fer_experiments::parse_device(&args.device)?;
    let registry = fer_catalog::model_registry();
    let trained = TrainedModel::open(&args.model, &registry, &device)?;
    if let ModelSource::Run {
        finished: false, ..
    } = trained.source
    {
        eprintln!(
            "note: {} is not finished (no DONE): its weights are the best epoch so far",
            args.model.display()
        );
    }
    let classes = class_names(args, &trained)?;
    let size = trained.config.input_size as u32;
    // The face pipeline's models load before the clock starts, as the model does.
    let face_stack = if args.aligned {
        None
    } else {
        let models = face_models::models_dir(args.models.as_deref());
        let detector = face_tools::load_detector(&models)?;
        let landmarker = face_tools::load_landmarker(&models)?;
        let alignment = alignment(args, &trained, &detector)?;
        eprintln!("alignment: {}", alignment.describe());
        Some((alignment, detector, landmarker))
    };
    let start = Instant::now();

    // Faces at the model's input, each with the row it will fill.
    let mut rows: Vec<FaceRow> = Vec::new();
    let mut faces: Vec<(String, image::GrayImage)> = Vec::new();
    let mut unreadable = 0usize;
    let mut no_face = 0usize;
    let label_of = |r: &Record| -> Result<Option<String>> {
        if args.labels_from_folders {
            folder_label(&r.id, &classes).map(Some)
        } else {
            Ok(None)
        }
    };
    if args.aligned {
        for r in &records {
            let true_label = label_of(r)?;
            let path = r.path.as_deref().unwrap_or(Path::new(&r.id));
            match fer_data::image_file::decode_image_file(path) {
                Ok(img) => {
                    let gray = img.into_luma8();
                    if gray.dimensions() != (size, size) {
                        bail!(
                            "{}: {}x{} pixels, but model '{}' takes {size}x{size} faces (--aligned expects faces at the model's input size; without it, photos are detected and aligned)",
                            path.display(),
                            gray.width(),
                            gray.height(),
                            trained.name
                        );
                    }
                    faces.push((r.id.clone(), gray));
                    rows.push(FaceRow {
                        id: r.id.clone(),
                        image: r.id.clone(),
                        face: Some(0),
                        status: "ok".into(),
                        detection: None,
                        true_label,
                        prediction: None,
                        to_image: None,
                    });
                }
                Err(reason) => {
                    unreadable += 1;
                    eprintln!("skipped {}: {reason}", path.display());
                    rows.push(FaceRow::without_face(
                        &r.id,
                        format!("unreadable: {reason}"),
                    ));
                }
            }
        }
    } else {
        let Some((alignment, detector, landmarker)) = &face_stack else {
            bail!("the face pipeline was not loaded");
        };
        let bars = StageBars::new();
        let found = faces_in_photos(
            detector,
            landmarker,
            &records,
            &load_record_file,
            alignment,
            args.detect_batch,
            &|s, d, t| bars.update(s, d, t),
        )?;
        bars.finish();
        for (r, (outcome, problems)) in records.iter().zip(found) {
            for p in &problems {
                eprintln!("{}: {p}", r.id);
            }
            let true_label = label_of(r)?;
            match outcome {
                Err(reason) => {
                    unreadable += 1;
                    eprintln!("skipped {}: {reason}", r.id);
                    rows.push(FaceRow::without_face(
                        &r.id,
                        format!("unreadable: {reason}"),
                    ));
                }
                Ok(found) if found.is_empty() => {
                    no_face += 1;
                    rows.push(FaceRow::without_face(&r.id, "no face".into()));
                }
                Ok(found) => {
                    for (k, f) in found.into_iter().enumerate() {
                        // The first face keeps the image's id, so a folder of one face per
                        // image scores like a run's predictions.csv.
                        let id = if k == 0 {
                            r.id.clone()
                        } else {
                            format!("{}#{k}", r.id)
                        };
                        faces.push((id.clone(), f.aligned.image.clone()));
                        rows.push(FaceRow {
                            id,
                            image: r.id.clone(),
                            face: Some(k),
                            status: "ok".into(),
                            detection: Some(f.detection),
                            true_label: true_label.clone(),
                            prediction: None,
                            to_image: f.aligned.transform.inverse(),
                        });
                    }
                }
            }
        }
    }

    // The model, in batches, through the evaluation loader.
    let n_faces = faces.len();
    let aligned_faces: Vec<(Vec<u8>, u32)> = if args.sheet.is_some() {
        faces
            .iter()
            .take(args.sheet_faces)
            .map(|(_, g)| (g.as_raw().clone(), g.width()))
            .collect()
    } else {
        Vec::new()
    };
    let data = FaceDataset::unlabelled("predict", faces, size);
    let bar = model_bar(n_faces);
    let predictions = fer_train::predict_dataset(
        trained.model.as_ref(),
        &data,
        args.batch,
        &device,
        &|d, _| bar.set_position(d as u64),
    )?;
    bar.finish();
    let mut next = predictions.into_iter();
    for row in rows.iter_mut().filter(|r| r.face.is_some()) {
        row.prediction = next.next();
    }
    let csv = predictions_table(&rows, &classes, trained.model.tasks().has_fld());
    fer_train::write_atomic(&args.out, csv.as_bytes())?;
    let seconds = start.elapsed().as_secs_f64();

    if let Some(sheet) = &args.sheet {
        let sheet_faces: Vec<fer_report::SheetFace> = rows
            .iter()
            .filter(|r| r.face.is_some())
            .zip(&aligned_faces)
            .map(|(r, (gray, side))| {
                let p = r.prediction.as_ref();
                let label = match (
                    p.and_then(|p| p.pred_label),
                    p.and_then(|p| p.probabilities.as_ref()),
                ) {
                    (Some(l), Some(probs)) => format!("{} {:.2}", classes[l], probs[l]),
                    _ => "(no FER head)".to_string(),
                };
                fer_report::SheetFace {
                    gray: gray.clone(),
                    side: *side as usize,
                    landmarks: p
                        .and_then(|p| p.landmarks)
                        .map(|l| l.to_vec())
                        .unwrap_or_default(),
                    caption: vec![label, short_name(&r.id)],
                }
            })
            .collect();
        if sheet_faces.is_empty() {
            eprintln!("no face to draw: {} not written", sheet.display());
        } else {
            let title = format!(
                "{} on {}",
                trained.name,
                args.images
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_else(|| args.images.display().to_string())
            );
            let (png, svg) = fer_report::plot_prediction_sheet(
                &sheet_faces,
                8,
                &title,
                &sheet.with_extension(""),
            )?;
            println!("sheet: {} and {}", png.display(), svg.display());
        }
    }
    Ok(PredictSummary {
        images: records.len(),
        faces: n_faces,
        no_face,
        unreadable,
        seconds,
    })
}

/// The last 24 characters of an id, for a caption.
fn short_name(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 24 {
        id.to_string()
    } else {
        format!("…{}", chars[chars.len() - 23..].iter().collect::<String>())
    }
}

/// The CSV text: one row per face, images without one included.
fn predictions_table(rows: &[FaceRow], classes: &[String], with_landmarks: bool) -> String {
    let mut s =
        String::from("id,image,face,status,x1,y1,x2,y2,detection_prob,true_label,pred_label");
    for c in classes {
        let _ = write!(s, ",prob_{}", field(c));
    }
    if with_landmarks {
        for group in ["true_x", "true_y", "pred_x", "pred_y"] {
            for i in 0..68 {
                let _ = write!(s, ",{group}_{i}");
            }
        }
    }
    s.push('\n');
    for r in rows {
        let p = r.prediction.as_ref();
        let _ = write!(
            s,
            "{},{},{},{}",
            field(&r.id),
            field(&r.image),
            r.face.map(|k| k.to_string()).unwrap_or_default(),
            field(&r.status)
        );
        match &r.detection {
            Some(d) => {
                let b = d.bbox;
                let _ = write!(
                    s,
                    ",{:.2},{:.2},{:.2},{:.2},{:.5}",
                    b.left, b.top, b.right, b.bottom, d.score
                );
            }
            None => s.push_str(",,,,,"),
        }
        let pred = p.and_then(|p| p.pred_label);
        let _ = write!(
            s,
            ",{},{}",
            if pred.is_some() {
                r.true_label.as_deref().map(field).unwrap_or_default()
            } else {
                String::new()
            },
            pred.map(|l| field(&classes[l])).unwrap_or_default()
        );
        let probs = p.and_then(|p| p.probabilities.as_ref());
        for i in 0..classes.len() {
            match probs {
                Some(v) => {
                    let _ = write!(s, ",{}", v[i]);
                }
                None => s.push(','),
            }
        }
        if with_landmarks {
            s.push_str(&",".repeat(136));
            let points = p.and_then(|p| p.landmarks).map(|l| {
                l.map(|q| match &r.to_image {
                    Some(t) => {
                        let v = t.apply([q[0] as f64, q[1] as f64]);
                        [v[0] as f32, v[1] as f32]
                    }
                    None => q,
                })
            });
            for axis in 0..2 {
                for i in 0..68 {
                    match &points {
                        Some(pts) => {
                            let _ = write!(s, ",{}", pts[i][axis]);
                        }
                        None => s.push(','),
                    }
                }
            }
        }
        s.push('\n');
    }
    s
}
