//! The deterministic, rayon-parallel batch loader: shuffles with the run's seed, augments the
//! training split (paper 4.3), normalises to [-1, 1] and stacks candle tensors.
//!
//! Every random choice is drawn from a generator seeded by (seed, epoch, sample index), so the
//! batches are identical for a seed whatever the number of threads.

use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::augment::{augment, AugmentConfig};
use crate::error::Result;
use crate::face_dataset::FaceDataset;
use crate::NUM_LANDMARKS;

/// One mini-batch.
#[derive(Debug, Clone)]
pub struct Batch {
    /// (B, 1, H, W) f32 in [-1, 1].
    pub images: Tensor,
    /// (B,) u32 label indices.
    pub labels: Tensor,
    /// (B, 68, 2) f32 pixel coordinates of the augmented image (zeros where unknown).
    pub landmarks: Tensor,
    /// (B,) f32: 1 where the sample has landmarks, 0 where not.
    pub landmark_mask: Tensor,
    /// Dataset indices of the samples, in batch order.
    pub indices: Vec<usize>,
}

/// Settings of one loader.
#[derive(Debug, Clone, PartialEq)]
pub struct LoaderConfig {
    pub batch_size: usize,
    pub shuffle: bool,
    /// Drop a last batch smaller than `batch_size` (training: batch norm needs > 1 sample).
    pub drop_last: bool,
    pub augment: Option<AugmentConfig>,
    pub seed: u64,
}

impl LoaderConfig {
    /// Training: shuffled, augmented as the paper, incomplete last batch dropped.
    pub fn train(batch_size: usize, seed: u64) -> Self {
        Self {
            batch_size,
            shuffle: true,
            drop_last: true,
            augment: Some(AugmentConfig::paper()),
            seed,
        }
    }

    /// Evaluation: every sample once, in order, unaugmented.
    pub fn eval(batch_size: usize) -> Self {
        Self {
            batch_size,
            shuffle: false,
            drop_last: false,
            augment: None,
            seed: 0,
        }
    }
}

/// SplitMix64 finaliser: decorrelates the seeds of neighbouring (epoch, index) pairs.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Batches over a subset of a dataset.
pub struct BatchLoader<'a> {
    data: &'a FaceDataset,
    indices: Vec<usize>,
    cfg: LoaderConfig,
    device: Device,
}

impl<'a> BatchLoader<'a> {
    pub fn new(
        data: &'a FaceDataset,
        indices: Vec<usize>,
        cfg: LoaderConfig,
        device: &Device,
    ) -> Result<Self> {
        if cfg.batch_size == 0 {
            return Err(crate::DataError::Config(
                "batch_size must be positive".into(),
            ));
        }
        Ok(Self {
            data,
            indices,
            cfg,
            device: device.clone(),
        })
    }

    pub fn len_samples(&self) -> usize {
        self.indices.len()
    }

    /// Number of batches per epoch.
    pub fn num_batches(&self) -> usize {
        let n = self.indices.len();
        if self.cfg.drop_last {
            n / self.cfg.batch_size
        } else {
            n.div_ceil(self.cfg.batch_size)
        }
    }

    /// The sample order of an epoch.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order = self.indices.clone();
        if self.cfg.shuffle {
            let mut rng = ChaCha8Rng::seed_from_u64(mix(self.cfg.seed ^ mix(epoch)));
            order.shuffle(&mut rng);
        }
        order
    }

    /// The batches of one epoch, built lazily.
    pub fn epoch(&self, epoch: u64) -> impl Iterator<Item = Result<Batch>> + '_ {
        let order = self.order(epoch);
        let n = self.num_batches();
        let bs = self.cfg.batch_size;
        (0..n).map(move |b| {
            let end = ((b + 1) * bs).min(order.len());
            self.make_batch(&order[b * bs..end], epoch)
        })
    }

    /// Builds one batch from dataset indices.
    pub fn make_batch(&self, indices: &[usize], epoch: u64) -> Result<Batch> {
        let size = self.data.size;
        let prepared: Vec<(Vec<f32>, u32, [f32; NUM_LANDMARKS * 2], f32)> = indices
            .par_iter()
            .map(|&i| {
                let s = &self.data.samples[i];
                // Unaugmented samples are normalised straight from the cached pixels.
                let (pixels, lms) = match &self.cfg.augment {
                    Some(aug) => {
                        let seed = mix(self.cfg.seed ^ mix(epoch ^ mix(i as u64)));
                        let mut rng = ChaCha8Rng::seed_from_u64(seed);
                        let (img, lms) = augment(&s.image, s.landmarks.as_ref(), aug, &mut rng);
                        (crate::augment::normalise(&img.pixels), lms)
                    }
                    None => (crate::augment::normalise(&s.image.pixels), s.landmarks),
                };
                let (flat, mask) = match lms {
                    Some(l) => (l.to_flat(), 1.0),
                    None => ([0.0; NUM_LANDMARKS * 2], 0.0),
                };
                (pixels, s.label as u32, flat, mask)
            })
            .collect();
        let b = indices.len();
        let mut pixels = Vec::with_capacity(b * size * size);
        let mut labels = Vec::with_capacity(b);
        let mut lms = Vec::with_capacity(b * NUM_LANDMARKS * 2);
        let mut mask = Vec::with_capacity(b);
        for (p, l, f, m) in prepared {
            pixels.extend_from_slice(&p);
            labels.push(l);
            lms.extend_from_slice(&f);
            mask.push(m);
        }
        Ok(Batch {
            images: Tensor::from_vec(pixels, (b, 1, size, size), &self.device)?,
            labels: Tensor::from_vec(labels, b, &self.device)?,
            landmarks: Tensor::from_vec(lms, (b, NUM_LANDMARKS, 2), &self.device)?,
            landmark_mask: Tensor::from_vec(mask, b, &self.device)?,
            indices: indices.to_vec(),
        })
    }
}
