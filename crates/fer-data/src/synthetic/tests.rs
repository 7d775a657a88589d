//! Whole-dataset tests of SynthFER: determinism, sizes, subjects, class balance, that the
//! landmark geometry alone predicts the expression clearly above chance but far from perfectly
//! (the point of the FLD auxiliary task), the image-folder layout, and generation speed.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use super::*;
use crate::landmarks::Landmarks68;

fn small(size: u32, seed: u64) -> SynthFerConfig {
    SynthFerConfig {
        num_subjects: 12,
        images_per_subject: 7,
        size,
        seed,
        ..SynthFerConfig::default()
    }
}

fn gen(cfg: &SynthFerConfig) -> Vec<SynthSample> {
    generate(cfg).expect("valid configuration")
}

/// A scratch folder unique to this test process and `tag` (removed at the start).
fn scratch(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("synthfer-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

#[test]
fn same_seed_same_pixels_and_landmarks_different_seed_differs() {
    let a = gen(&small(48, 11));
    let b = gen(&small(48, 11));
    let c = gen(&small(48, 12));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.id, y.id);
        assert_eq!(x.expression, y.expression);
        assert_eq!(x.image.as_raw(), y.image.as_raw());
        assert_eq!(x.landmarks, y.landmarks);
        assert_eq!(x.intensity.to_bits(), y.intensity.to_bits());
    }
    let differing = a
        .iter()
        .zip(&c)
        .filter(|(x, y)| x.image.as_raw() != y.image.as_raw() && x.landmarks != y.landmarks)
        .count();
    assert_eq!(differing, a.len(), "another seed must change every image");
}

#[test]
fn output_does_not_depend_on_the_thread_count() {
    let cfg = small(48, 5);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool")
        .install(|| gen(&cfg));
    let many = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .expect("a three-thread pool")
        .install(|| gen(&cfg));
    for (x, y) in one.iter().zip(&many) {
        assert_eq!(x.image.as_raw(), y.image.as_raw(), "{}", x.id);
        assert_eq!(x.landmarks, y.landmarks);
    }
}

#[test]
fn works_at_48_and_100_px_with_landmarks_inside() {
    for size in [48u32, 100] {
        let samples = gen(&SynthFerConfig {
            num_subjects: 20,
            images_per_subject: 7,
            size,
            ..SynthFerConfig::default()
        });
        assert_eq!(samples.len(), 140);
        for s in &samples {
            assert_eq!(s.image.dimensions(), (size, size));
            for p in &s.landmarks.points {
                for v in p {
                    assert!(
                        v.is_finite() && *v >= -2.0 && *v <= size as f32 + 1.0,
                        "{} landmark {p:?} outside the {size} px image",
                        s.id
                    );
                }
            }
            // A face, not a flat image: some contrast.
            let (lo, hi) = s
                .image
                .as_raw()
                .iter()
                .fold((255u8, 0u8), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            assert!(hi - lo > 60, "{} has almost no contrast", s.id);
            assert!(s.landmarks.inter_ocular_distance() > 0.2 * size as f32);
        }
    }
}

#[test]
fn subjects_have_several_images_and_ids_are_unique() {
    let cfg = small(48, 3);
    let samples = gen(&cfg);
    assert_eq!(samples.len(), cfg.num_images());
    let ids: HashSet<&str> = samples.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), samples.len());
    let mut per_subject: HashMap<&str, usize> = HashMap::new();
    for s in &samples {
        assert!(s.id.starts_with(&s.subject), "{} / {}", s.id, s.subject);
        *per_subject.entry(s.subject.as_str()).or_default() += 1;
    }
    assert_eq!(per_subject.len(), cfg.num_subjects);
    assert!(per_subject.values().all(|&n| n == cfg.images_per_subject));
    assert_eq!(samples[0].id, "s0000_00");
    assert_eq!(samples[0].subject, "s0000");
    // Neutral has intensity 0, the others lie in the configured range.
    for s in &samples {
        if s.expression == Expression::Neutral {
            assert_eq!(s.intensity, 0.0);
        } else {
            assert!(s.intensity >= cfg.intensity_range.0 && s.intensity <= cfg.intensity_range.1);
        }
    }
}

#[test]
fn classes_are_balanced() {
    let cfg = SynthFerConfig {
        num_subjects: 30,
        images_per_subject: 10,
        size: 32,
        ..SynthFerConfig::default()
    };
    let samples = gen(&cfg);
    let mut counts: HashMap<Expression, usize> = HashMap::new();
    for s in &samples {
        assert!(SYNTHFER_CLASSES.contains(&s.expression));
        *counts.entry(s.expression).or_default() += 1;
    }
    assert_eq!(counts.len(), 7);
    let (min, max) = (
        counts.values().copied().min().unwrap_or(0),
        counts.values().copied().max().unwrap_or(0),
    );
    assert!(max - min <= 1, "counts {counts:?}");
}

/// Landmarks normalised by a similarity transform: eye midpoint at the origin, eyes
/// horizontal, inter-ocular distance 1.
fn normalised(l: &Landmarks68) -> Vec<f32> {
    let a = l.left_eye_centre();
    let b = l.right_eye_centre();
    let c = [(a[0] + b[0]) * 0.5, (a[1] + b[1]) * 0.5];
    let d = [b[0] - a[0], b[1] - a[1]];
    let len = (d[0] * d[0] + d[1] * d[1]).sqrt();
    let (cos, sin) = (d[0] / len, d[1] / len);
    l.points
        .iter()
        .flat_map(|p| {
            let (x, y) = (p[0] - c[0], p[1] - c[1]);
            [(cos * x + sin * y) / len, (-sin * x + cos * y) / len]
        })
        .collect()
}

/// Nearest-class-mean accuracy on normalised landmarks, trained on even subjects and tested
/// on odd subjects (subject-exclusive), with the confusion matrix (rows: truth, columns:
/// prediction, in `SYNTHFER_CLASSES` order).
fn geometry_accuracy(samples: &[SynthSample]) -> (f32, [[usize; 7]; 7]) {
    let class = |e: Expression| SYNTHFER_CLASSES.iter().position(|c| *c == e).unwrap_or(0);
    let subject_index = |s: &SynthSample| s.subject[1..].parse::<usize>().unwrap_or(0);
    let dim = 2 * crate::landmarks::NUM_LANDMARKS;
    let mut sums = vec![(vec![0.0f32; dim], 0usize); 7];
    for s in samples.iter().filter(|s| subject_index(s) % 2 == 0) {
        let e = &mut sums[class(s.expression)];
        for (acc, v) in e.0.iter_mut().zip(normalised(&s.landmarks)) {
            *acc += v;
        }
        e.1 += 1;
    }
    let centroids: Vec<Vec<f32>> = sums
        .into_iter()
        .map(|(sum, n)| sum.into_iter().map(|v| v / n.max(1) as f32).collect())
        .collect();
    let mut confusion = [[0usize; 7]; 7];
    for s in samples.iter().filter(|s| subject_index(s) % 2 == 1) {
        let f = normalised(&s.landmarks);
        let predicted = centroids
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let d: f32 = c.iter().zip(&f).map(|(a, b)| (a - b) * (a - b)).sum();
                (d, k)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map_or(0, |(_, k)| k);
        confusion[class(s.expression)][predicted] += 1;
    }
    let total: usize = confusion.iter().flatten().sum();
    let correct: usize = (0..7).map(|k| confusion[k][k]).sum();
    (correct as f32 / total.max(1) as f32, confusion)
}

#[test]
fn landmark_geometry_predicts_expression_above_chance_but_not_perfectly() {
    let samples = gen(&SynthFerConfig {
        num_subjects: 140,
        images_per_subject: 10,
        size: 48,
        seed: 77,
        ..SynthFerConfig::default()
    });
    let (acc, confusion) = geometry_accuracy(&samples);
    println!(
        "SynthFER geometry-only nearest-centroid accuracy (1400 images, subject-exclusive \
         halves): {:.1} %",
        100.0 * acc
    );
    for (e, row) in SYNTHFER_CLASSES.iter().zip(&confusion) {
        println!("{:>10} {row:?}", e.name());
    }
    assert!(
        (0.45..=0.95).contains(&acc),
        "geometry accuracy {acc} outside [0.45, 0.95]"
    );
}

#[test]
fn image_folder_has_class_folders_csv_and_sheet_and_refuses_non_empty_target() {
    let samples = gen(&small(48, 21));
    let out = scratch("folder").join("synthfer");
    let csv = write_image_folder(&samples, &out).expect("write into a fresh folder");
    assert_eq!(csv, out.join(LANDMARK_CSV));
    for e in SYNTHFER_CLASSES {
        assert!(
            out.join(e.name()).is_dir(),
            "missing class folder {}",
            e.name()
        );
    }
    assert!(out.join(CONTACT_SHEET_PNG).is_file());
    let text = std::fs::read_to_string(&csv).expect("CSV readable");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + samples.len());
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(header.len(), 137);
    assert_eq!(header[0], "image");
    assert_eq!(header[1], "x_0");
    assert_eq!(header[68], "x_67");
    assert_eq!(header[69], "y_0");
    assert_eq!(header[136], "y_67");
    for (line, s) in lines[1..].iter().zip(&samples) {
        let cols: Vec<&str> = line.split(',').collect();
        assert_eq!(cols.len(), 137);
        assert_eq!(cols[0], format!("{}/{}.png", s.expression.name(), s.id));
        assert!(out.join(cols[0]).is_file());
        // Exact round trip of the coordinates.
        let x5: f32 = cols[1 + 5].parse().expect("a number");
        let y5: f32 = cols[69 + 5].parse().expect("a number");
        assert_eq!(x5, s.landmarks.points[5][0]);
        assert_eq!(y5, s.landmarks.points[5][1]);
    }
    let back = image::open(out.join(lines[1].split(',').next().unwrap_or("")))
        .expect("PNG readable")
        .to_luma8();
    assert_eq!(back.as_raw(), samples[0].image.as_raw());
    // No temporary folder left behind.
    let parent = out.parent().map(PathBuf::from).unwrap_or_default();
    let leftovers = std::fs::read_dir(&parent)
        .expect("parent readable")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .count();
    assert_eq!(leftovers, 0);

    // A second write into the now non-empty folder is refused and changes nothing.
    match write_image_folder(&samples, &out) {
        Err(crate::DataError::Config(m)) => {
            assert!(m.contains("synthfer") && m.contains("not empty"), "{m}")
        }
        other => panic!("expected a Config error, got {other:?}"),
    }
    assert_eq!(
        std::fs::read_to_string(&csv).expect("still there"),
        text,
        "existing data must stay untouched"
    );

    // An existing but empty folder is fine.
    let empty = scratch("empty");
    std::fs::create_dir_all(&empty).expect("create empty folder");
    write_image_folder(&samples[..3], &empty).expect("write into an empty folder");
    assert!(empty.join(LANDMARK_CSV).is_file());
    let _ = std::fs::remove_dir_all(scratch("folder"));
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn contact_sheet_has_the_expected_layout() {
    let samples = gen(&small(48, 2));
    let sheet = contact_sheet(&samples[..10], 4, 2);
    // 4 columns of 96 px tiles + padding; 3 rows of tile + bar + padding.
    assert_eq!(sheet.width(), 4 * (96 + 2) + 2);
    assert_eq!(sheet.height(), 3 * (96 + 4 + 2) + 2);
    assert_eq!(contact_sheet(&[], 4, 2).dimensions(), (1, 1));
}

#[test]
fn generation_speed_3000_images_at_100_px() {
    // The issue asks for < 10 s for 3,000 images at 100 px in a release build on 2 cores.
    // Debug builds measure a smaller run so that `cargo test` stays quick.
    let n_subjects = if cfg!(debug_assertions) { 30 } else { 300 };
    let cfg = SynthFerConfig {
        num_subjects: n_subjects,
        ..SynthFerConfig::paper_size()
    };
    let t = Instant::now();
    let samples = gen(&cfg);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "SynthFER: generated {} images at {} px in {:.2} s on {} threads ({})",
        samples.len(),
        cfg.size,
        secs,
        rayon::current_num_threads(),
        if cfg!(debug_assertions) {
            "debug build"
        } else {
            "release build"
        }
    );
    assert_eq!(samples.len(), n_subjects * 10);
}

/// Writes contact sheets for visual inspection: `cargo test -p fer-data --release
/// synthetic::tests::write_contact_sheets -- --ignored`.
#[test]
#[ignore]
fn write_contact_sheets_for_inspection() {
    for (size, scale) in [(48u32, 4u32), (100, 2)] {
        let samples = gen(&SynthFerConfig {
            num_subjects: 8,
            images_per_subject: 8,
            size,
            ..SynthFerConfig::default()
        });
        let sheet = contact_sheet(&samples, 8, scale);
        let path = std::env::temp_dir().join(format!("synthfer_sheet_{size}.png"));
        sheet.save(&path).expect("sheet written");
        println!("wrote {}", path.display());
        // Close-ups: with landmarks, and without (moved off the tiles) to judge the faces.
        let zoom = contact_sheet(&samples[..8], 4, scale * 2);
        zoom.save(std::env::temp_dir().join(format!("synthfer_zoom_{size}.png")))
            .expect("zoom written");
        let plain: Vec<SynthSample> = samples[8..24]
            .iter()
            .map(|s| SynthSample {
                landmarks: Landmarks68::new([[-1000.0; 2]; 68]),
                ..s.clone()
            })
            .collect();
        contact_sheet(&plain, 4, scale * 3 / 2)
            .save(std::env::temp_dir().join(format!("synthfer_plain_{size}.png")))
            .expect("plain written");
    }
}
