//! The MTCNN cascade (Zhang et al. 2016) as facenet-pytorch 2.6.0's `MTCNN.detect` runs it:
//! P-Net over a scale pyramid proposes windows (NMS 0.5 per level, 0.7 across levels), R-Net
//! rescores 24x24 crops of them (NMS 0.7), O-Net rescores 48x48 crops and places five landmarks
//! (NMS 0.7 by intersection over the smaller box).
//!
//! Speed comes from batching, not from changing the algorithm: same-size images' pyramid
//! levels go through P-Net together (up to a pixel budget), and all images' R-Net / O-Net crops
//! go through their network together, each convolution one matrix product over every pixel of
//! the batch (NHWC maps, im2col). Box arithmetic and NMS run per image, so an image's faces do
//! not depend on which other images share its batch.
//!
//! Where facenet-pytorch's own arithmetic has a quirk, the quirk is kept, since the goal is
//! the same boxes: the P-Net regression scales by x2 - x1 but `bbreg` by x2 - x1 + 1; crops are
//! clamped to the image (not zero-padded as in the original MTCNN), so candidates overhanging the
//! image share a crop and a score, and the NMS tie rules (see `non_max_suppression`) decide which
//! survives.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use image::RgbImage;
use rayon::prelude::*;

use super::candidate_box::CandidateBox;
use super::crop_window::CropWindow;
use super::float_image::FloatImage;
use super::mtcnn_config::MtcnnConfig;
use super::non_max_suppression::{non_max_suppression, Overlap};
use super::o_net::{ONet, O_NET_INPUT_SIZE, O_NET_OUTPUT_COLUMNS};
use super::p_net::{PNet, P_NET_OUTPUT_CHANNELS};
use super::r_net::{RNet, R_NET_INPUT_SIZE, R_NET_OUTPUT_COLUMNS};
use super::scale_pyramid::scale_pyramid;
use super::torch_state_dict::TorchStateDict;
use crate::Result;
use crate::{FaceBox, FaceDetection};

/// NMS thresholds of facenet-pytorch's `detect_face` (not settings there either).
const NMS_WITHIN_LEVEL: f32 = 0.5;
const NMS_ACROSS_LEVELS: f32 = 0.7;
const NMS_AFTER_R_NET: f32 = 0.7;
const NMS_AFTER_O_NET: f32 = 0.7;

/// The three networks and the settings; `Send + Sync`, so one detector can serve many threads.
#[derive(Debug, Clone)]
pub struct Mtcnn {
    config: MtcnnConfig,
    p_net: PNet,
    r_net: RNet,
    o_net: ONet,
    device: Device,
}

/// A network that maps a batch of crops to one output row per crop.
type CropNetwork<'a> = &'a (dyn Fn(&Tensor) -> candle_core::Result<Tensor> + Sync);

impl Mtcnn {
    /// Reads facenet-pytorch's `pnet.pt`, `rnet.pt`, `onet.pt` from `dir`.
    pub fn from_dir(dir: &Path, config: MtcnnConfig, device: &Device) -> Result<Mtcnn> {
        config.validate()?;
        let read = |file: &str| TorchStateDict::read(&dir.join(file), device);
        Ok(Mtcnn {
            p_net: PNet::load(&read("pnet.pt")?)?,
            r_net: RNet::load(&read("rnet.pt")?)?,
            o_net: ONet::load(&read("onet.pt")?)?,
            config,
            device: device.clone(),
        })
    }

    pub fn config(&self) -> &MtcnnConfig {
        &self.config
    }

    /// Faces sorted by probability, most probable first (box x1,y1,x2,y2 as
    /// FaceBox{left,top,right,bottom}; points le, re, nose, ml, mr).
    pub fn detect(&self, image: &RgbImage) -> Result<Vec<FaceDetection>> {
        Ok(self
            .detect_batch(std::slice::from_ref(image))?
            .pop()
            .unwrap_or_default())
    }

    /// Same results as calling detect on each, but batched through the networks for speed
    /// (images may have different sizes; same-size ones share P-Net passes).
    pub fn detect_batch(&self, images: &[RgbImage]) -> Result<Vec<Vec<FaceDetection>>> {
        let float_images: Vec<FloatImage> = images.par_iter().map(FloatImage::from_rgb).collect();
        let proposals = self.propose(&float_images)?;
        let refined = self.refine(&float_images, &proposals)?;
        self.finish(&float_images, &refined)
    }

    /// Stage 1: P-Net over every pyramid level; per image the surviving windows, regressed
    /// and squared.
    fn propose(&self, images: &[FloatImage]) -> Result<Vec<Vec<CandidateBox>>> {
        let threshold = self.config.thresholds[0];
        let mut proposals = vec![Vec::new(); images.len()];
        for group in same_size_groups(images) {
            let image_pixels = (images[group[0]].width * images[group[0]].height).max(1);
            let images_per_forward = (self.config.pixels_per_forward / image_pixels).max(1);
            for chunk in group.chunks(images_per_forward) {
                let (width, height) = (images[chunk[0]].width, images[chunk[0]].height);
                let mut found: Vec<Vec<CandidateBox>> = vec![Vec::new(); chunk.len()];
                for level in
                    scale_pyramid(width, height, self.config.min_face_size, self.config.factor)
                {
                    let level_len = 3 * level.height * level.width;
                    let mut input = vec![0f32; chunk.len() * level_len];
                    input
                        .par_chunks_mut(level_len)
                        .zip(chunk.par_iter())
                        .for_each(|(out, &i)| {
                            images[i].resample_normalised(
                                CropWindow::full(width, height),
                                level.height,
                                level.width,
                                out,
                            )
                        });
                    let input = Tensor::from_vec(
                        input,
                        (chunk.len(), level.height, level.width, 3),
                        &self.device,
                    )?;
                    let output = self.p_net.forward(&input)?;
                    let (_, map_height, map_width, _) = output.dims4()?;
                    let maps = output.flatten_all()?.to_vec1::<f32>()?;
                    // torch divides the f32 cell coordinates by the scale as an f32.
                    let scale = level.scale as f32;
                    found
                        .par_iter_mut()
                        .zip(maps.par_chunks(P_NET_OUTPUT_CHANNELS * map_height * map_width))
                        .for_each(|(found, map)| {
                            let windows = p_net_windows(map, map_width, scale, threshold);
                            let keep = non_max_suppression(
                                &windows,
                                NMS_WITHIN_LEVEL,
                                Overlap::IntersectionOverUnion,
                            );
                            found.extend(keep.into_iter().map(|k| windows[k]));
                        });
                }
                for (windows, &image) in found.into_iter().zip(chunk) {
                    let keep = non_max_suppression(
                        &windows,
                        NMS_ACROSS_LEVELS,
                        Overlap::IntersectionOverUnion,
                    );
                    proposals[image] = keep
                        .into_iter()
                        .map(|k| {
                            let mut window = windows[k];
                            window.apply_p_net_regression();
                            window.make_square();
                            window
                        })
                        .collect();
                }
            }
        }
        Ok(proposals)
    }

    /// Stage 2: R-Net on 24x24 crops; per image the candidates above the threshold, after
    /// NMS, regressed and squared.
    fn refine(
        &self,
        images: &[FloatImage],
        proposals: &[Vec<CandidateBox>],
    ) -> Result<Vec<Vec<CandidateBox>>> {
        let threshold = self.config.thresholds[1];
        let r_net = |x: &Tensor| self.r_net.forward(x);
        let scored = self.run_on_crops(
            images,
            proposals,
            R_NET_INPUT_SIZE,
            R_NET_OUTPUT_COLUMNS,
            &r_net,
        )?;
        Ok(scored
            .into_par_iter()
            .map(|rows| {
                let passed: Vec<CandidateBox> = rows
                    .into_iter()
                    .filter_map(|(candidate, row)| {
                        let score = face_probability(row[0], row[1]);
                        (score > threshold).then(|| CandidateBox {
                            score,
                            regression: [row[2], row[3], row[4], row[5]],
                            ..candidate
                        })
                    })
                    .collect();
                non_max_suppression(&passed, NMS_AFTER_R_NET, Overlap::IntersectionOverUnion)
                    .into_iter()
                    .map(|k| {
                        let mut candidate = passed[k];
                        candidate.apply_bbreg();
                        candidate.make_square();
                        candidate
                    })
                    .collect()
            })
            .collect())
    }

    /// Stage 3: O-Net on 48x48 crops; per image the faces above the threshold with their
    /// landmarks, regressed, after 'Min' NMS, most probable first.
    fn finish(
        &self,
        images: &[FloatImage],
        candidates: &[Vec<CandidateBox>],
    ) -> Result<Vec<Vec<FaceDetection>>> {
        let threshold = self.config.thresholds[2];
        let o_net = |x: &Tensor| self.o_net.forward(x);
        let scored = self.run_on_crops(
            images,
            candidates,
            O_NET_INPUT_SIZE,
            O_NET_OUTPUT_COLUMNS,
            &o_net,
        )?;
        Ok(scored
            .into_par_iter()
            .map(|rows| {
                let mut boxes = Vec::new();
                let mut points = Vec::new();
                for (candidate, row) in rows {
                    let score = face_probability(row[0], row[1]);
                    if score <= threshold {
                        continue;
                    }
                    // Landmarks are relative to the box O-Net saw (before its regression),
                    // with 1-based inclusive sizes.
                    let width = candidate.x2 - candidate.x1 + 1.0;
                    let height = candidate.y2 - candidate.y1 + 1.0;
                    let face_points: [[f32; 2]; 5] = std::array::from_fn(|j| {
                        [
                            width * row[6 + j] + candidate.x1 - 1.0,
                            height * row[11 + j] + candidate.y1 - 1.0,
                        ]
                    });
                    let mut face = CandidateBox {
                        score,
                        regression: [row[2], row[3], row[4], row[5]],
                        ..candidate
                    };
                    face.apply_bbreg();
                    boxes.push(face);
                    points.push(face_points);
                }
                let mut faces: Vec<FaceDetection> =
                    non_max_suppression(&boxes, NMS_AFTER_O_NET, Overlap::IntersectionOverMinimum)
                        .into_iter()
                        .map(|k| FaceDetection {
                            bbox: FaceBox::new(boxes[k].x1, boxes[k].y1, boxes[k].x2, boxes[k].y2),
                            score: boxes[k].score,
                            points: points[k],
                        })
                        .collect();
                faces.sort_by(|a, b| b.score.total_cmp(&a.score));
                faces
            })
            .collect())
    }

    /// Crops every candidate of every image (facenet-pytorch's `pad` + slice), area-resizes
    /// the crops to `size` x `size`, runs `network` on them `crops_per_forward` at a time and
    /// returns, per image, each candidate that had a non-empty crop with its output row.
    #[allow(clippy::type_complexity)]
    fn run_on_crops(
        &self,
        images: &[FloatImage],
        candidates: &[Vec<CandidateBox>],
        size: usize,
        columns: usize,
        network: CropNetwork<'_>,
    ) -> Result<Vec<Vec<(CandidateBox, Vec<f32>)>>> {
        // (image, candidate, window) for all crops, image by image.
        let crops: Vec<(usize, CandidateBox, CropWindow)> = candidates
            .iter()
            .enumerate()
            .flat_map(|(image, boxes)| {
                let (width, height) = (images[image].width, images[image].height);
                boxes.iter().filter_map(move |&candidate| {
                    // facenet-pytorch skips empty crops (and would then fail on the misaligned
                    // outputs); here such a candidate is simply dropped.
                    CropWindow::of_box(candidate.corners(), width, height)
                        .map(|window| (image, candidate, window))
                })
            })
            .collect();
        let crop_len = 3 * size * size;
        let mut results: Vec<Vec<(CandidateBox, Vec<f32>)>> = vec![Vec::new(); images.len()];
        for chunk in crops.chunks(self.config.crops_per_forward) {
            let mut input = vec![0f32; chunk.len() * crop_len];
            input
                .par_chunks_mut(crop_len)
                .zip(chunk.par_iter())
                .for_each(|(out, &(image, _, window))| {
                    images[image].resample_normalised(window, size, size, out)
                });
            let input = Tensor::from_vec(input, (chunk.len(), size, size, 3), &self.device)?;
            let output = network(&input)?.flatten_all()?.to_vec1::<f32>()?;
            for (&(image, candidate, _), row) in chunk.iter().zip(output.chunks_exact(columns)) {
                results[image].push((candidate, row.to_vec()));
            }
        }
        Ok(results)
    }
}

/// Indices of `images` grouped by size (each group in input order).
fn same_size_groups(images: &[FloatImage]) -> Vec<Vec<usize>> {
    let mut group_of_size: HashMap<(usize, usize), usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let group = *group_of_size
            .entry((image.width, image.height))
            .or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
        groups[group].push(i);
    }
    groups
}

/// P-Net's windows with face probability >= `threshold` in one image's output `map`
/// (height x width x 6), in row-major order as torch's `nonzero` lists them
/// (`generateBoundingBox`).
fn p_net_windows(map: &[f32], width: usize, scale: f32, threshold: f32) -> Vec<CandidateBox> {
    map.chunks_exact(P_NET_OUTPUT_CHANNELS)
        .enumerate()
        .filter_map(|(i, cell)| {
            let score = face_probability(cell[0], cell[1]);
            (score >= threshold).then(|| {
                let regression = [cell[2], cell[3], cell[4], cell[5]];
                CandidateBox::from_p_net_cell(i % width, i / width, scale, score, regression)
            })
        })
        .collect()
}

/// The face class's softmax probability from the (non-face, face) logits.
fn face_probability(non_face: f32, face: f32) -> f32 {
    let max = non_face.max(face);
    let non_face = (non_face - max).exp();
    let face = (face - max).exp();
    face / (non_face + face)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Mtcnn>();
    }

    #[test]
    fn face_probability_is_a_two_class_softmax() {
        assert!((face_probability(0.0, 0.0) - 0.5).abs() < 1e-7);
        let p = face_probability(-1.0, 2.0);
        assert!((p - 1.0 / (1.0 + (-3f32).exp())).abs() < 1e-6);
        assert!(face_probability(0.0, 1000.0).is_finite());
    }
}
