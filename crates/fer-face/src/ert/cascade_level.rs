//! One level of the regression cascade (Kazemi and Sullivan 2014, eq. 2: S(t+1) = S(t) +
//! r_t(I, S(t))): the feature pixels of the level, encoded relative to the reference shape,
//! and its gradient-boosted forest, packed into flat arrays for the predictor's hot loop.
//!
//! dlib stores each tree as its own vectors; we lay all the level's splits end to end and all
//! its leaf increments end to end, with per-tree offsets, so that one prediction walks
//! contiguous memory and allocates nothing.

use super::dlib_deserializer::DlibDeserializer;
use super::regression_tree::{RegressionTree, SplitFeature};
use crate::Result;

/// The trees and feature pixels of one cascade level.
#[derive(Debug, Clone, PartialEq)]
pub struct CascadeLevel {
    /// All split tests, tree after tree.
    splits: Vec<SplitFeature>,
    /// All leaf increments (`shape_len` floats each), tree after tree.
    leaf_values: Vec<f32>,
    /// Tree t's splits are `splits[split_start[t]..split_start[t + 1]]`; its leaves start at
    /// leaf number `split_start[t] + t` (each tree has one leaf more than splits).
    split_start: Vec<usize>,
    /// Twice the number of landmarks: the length of a shape and of every leaf increment.
    shape_len: usize,
    /// The landmark each feature pixel is anchored to (dlib's `anchor_idx[level]`).
    anchor: Vec<usize>,
    /// The pixel's offset from its anchor in the reference shape's normalised coordinates
    /// (dlib's `deltas[level]`).
    delta: Vec<[f32; 2]>,
}

impl CascadeLevel {
    /// Packs decoded trees; `offset` (where the level's forest began) only names errors.
    pub fn from_trees(
        trees: Vec<RegressionTree>,
        shape_len: usize,
        de: &DlibDeserializer<'_>,
        offset: usize,
    ) -> Result<Self> {
        let mut splits = Vec::with_capacity(trees.iter().map(|t| t.splits.len()).sum());
        let mut leaf_values =
            Vec::with_capacity(trees.iter().map(|t| t.leaf_values.len()).sum::<usize>());
        let mut split_start = Vec::with_capacity(trees.len() + 1);
        for tree in &trees {
            if tree.leaf_len != shape_len {
                return Err(de.error_at(offset, "leaf length differs from the shape length"));
            }
            split_start.push(splits.len());
            splits.extend_from_slice(&tree.splits);
            leaf_values.extend_from_slice(&tree.leaf_values);
        }
        split_start.push(splits.len());
        Ok(Self {
            splits,
            leaf_values,
            split_start,
            shape_len,
            anchor: Vec::new(),
            delta: Vec::new(),
        })
    }

    /// Attaches the level's feature pixels and checks that every index in the level is in
    /// range, so that prediction cannot index out of bounds.
    pub fn set_feature_pixels(
        &mut self,
        anchor: Vec<usize>,
        delta: Vec<[f32; 2]>,
        de: &DlibDeserializer<'_>,
        offset: usize,
        level: usize,
    ) -> Result<()> {
        let num_parts = self.shape_len / 2;
        if anchor.len() != delta.len() {
            return Err(de.error_at(
                offset,
                format!(
                    "cascade level {level}: {} anchor indices but {} deltas",
                    anchor.len(),
                    delta.len()
                ),
            ));
        }
        if let Some(bad) = anchor.iter().find(|&&a| a >= num_parts) {
            return Err(de.error_at(
                offset,
                format!("cascade level {level}: anchor index {bad} >= {num_parts} parts"),
            ));
        }
        let num_pixels = anchor.len();
        if let Some(bad) = self
            .splits
            .iter()
            .find(|s| s.idx1 as usize >= num_pixels || s.idx2 as usize >= num_pixels)
        {
            return Err(de.error_at(
                offset,
                format!(
                    "cascade level {level}: a split compares pixels {} and {} of only {num_pixels}",
                    bad.idx1, bad.idx2
                ),
            ));
        }
        self.anchor = anchor;
        self.delta = delta;
        Ok(())
    }

    pub fn num_trees(&self) -> usize {
        self.split_start.len() - 1
    }

    /// Leaves over all trees of the level.
    pub fn num_leaves(&self) -> usize {
        self.splits.len() + self.num_trees()
    }

    pub fn num_feature_pixels(&self) -> usize {
        self.anchor.len()
    }

    /// The anchor landmark and normalised offset of each feature pixel.
    pub fn feature_pixels(&self) -> impl Iterator<Item = (usize, [f32; 2])> + '_ {
        self.anchor.iter().copied().zip(self.delta.iter().copied())
    }

    /// Adds every tree's leaf increment to `shape`, tree by tree in stored order: each
    /// coordinate then sees the same sequence of f32 additions as in dlib's
    /// `current_shape += tree(...)`. `leaf_starts` is scratch space of at least `num_trees()`.
    ///
    /// The leaves (about 65 MB for the 68-point model) do not fit in cache and each tree jumps
    /// to an unpredictable one, so the time goes into waiting for memory. The feature pixels
    /// stay fixed within a level, so we first walk all trees to find their leaves and then add
    /// the increments while prefetching the leaves a few trees ahead: the memory accesses
    /// overlap instead of following one another.
    pub fn add_increments(
        &self,
        feature_pixels: &[f32],
        leaf_starts: &mut [usize],
        shape: &mut [f32],
    ) {
        let leaf_starts = &mut leaf_starts[..self.num_trees()];
        for ((tree, bounds), leaf_start) in self
            .split_start
            .windows(2)
            .enumerate()
            .zip(leaf_starts.iter_mut())
        {
            let tree_splits = &self.splits[bounds[0]..bounds[1]];
            let num_splits = tree_splits.len();
            let mut node = 0;
            while node < num_splits {
                node = if tree_splits[node].goes_left(feature_pixels) {
                    2 * node + 1
                } else {
                    2 * node + 2
                };
            }
            // Leaf numbers run on across trees: tree t's leaves follow the t earlier trees'
            // splits + 1 leaves each.
            *leaf_start = (bounds[0] + tree + (node - num_splits)) * self.shape_len;
        }

        let shape = &mut shape[..self.shape_len];
        for (t, &start) in leaf_starts.iter().enumerate() {
            if let Some(&ahead) = leaf_starts.get(t + PREFETCH_TREES_AHEAD) {
                prefetch(&self.leaf_values[ahead..ahead + self.shape_len]);
            }
            let increment = &self.leaf_values[start..start + self.shape_len];
            for (s, d) in shape.iter_mut().zip(increment) {
                *s += *d;
            }
        }
    }
}

/// How many trees ahead the leaf increments are prefetched: enough to cover a memory latency
/// with the additions of the trees in between.
const PREFETCH_TREES_AHEAD: usize = 6;

/// Asks the CPU to bring `data` into cache without waiting for it.
#[inline]
fn prefetch(data: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // One request per 64-byte line, plus the last element in case the slice straddles one
        // line more than its length suggests.
        let lines = data.iter().step_by(16).chain(data.last());
        for value in lines {
            // SAFETY: a prefetch is only a hint; it never faults and has no architectural
            // effect, and the address comes from a live slice anyway. SSE is part of the
            // x86_64 baseline, so the instruction always exists.
            unsafe { _mm_prefetch::<_MM_HINT_T0>((value as *const f32).cast::<i8>()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}
