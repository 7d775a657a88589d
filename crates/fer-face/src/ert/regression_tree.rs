//! One regression tree of the ensemble (Kazemi and Sullivan 2014, section 2.3; dlib's
//! `impl::regression_tree`) as it is stored: the split tests of a complete binary tree in
//! breadth-first order, then one shape increment per leaf. The predictor packs the trees of a
//! cascade level into flat arrays (`CascadeLevel`); this type is the decoded form and the
//! plain reference for how a tree is walked.

use super::dlib_deserializer::DlibDeserializer;
use crate::Result;

/// The test at an inner node: go left when `pixel[idx1] - pixel[idx2] > thresh` (the
/// pixel-difference feature of the paper, section 2.3.2), where the indices pick two of the
/// cascade level's feature pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitFeature {
    pub idx1: u32,
    pub idx2: u32,
    pub thresh: f32,
}

impl SplitFeature {
    /// dlib: `unsigned long idx1, idx2; float thresh`, in that order.
    pub fn deserialize(de: &mut DlibDeserializer<'_>) -> Result<Self> {
        let start = de.offset();
        let idx1 = de.read_unsigned("split feature idx1")?;
        let idx2 = de.read_unsigned("split feature idx2")?;
        let thresh = de.read_f32("split feature threshold")?;
        let to_u32 =
            |v: u64| u32::try_from(v).map_err(|_| de.error_at(start, "split index too large"));
        Ok(Self {
            idx1: to_u32(idx1)?,
            idx2: to_u32(idx2)?,
            thresh,
        })
    }

    /// True when the walk goes to the left child. Pixel values are converted to float first,
    /// as dlib does, so the difference is exact.
    #[inline]
    pub fn goes_left(&self, feature_pixels: &[f32]) -> bool {
        feature_pixels[self.idx1 as usize] - feature_pixels[self.idx2 as usize] > self.thresh
    }
}

/// A decoded tree: `splits.len()` inner nodes (children of node i at 2i+1 and 2i+2) and
/// `splits.len() + 1` leaves of `leaf_len` floats each, stored back to back.
#[derive(Debug, Clone, PartialEq)]
pub struct RegressionTree {
    pub splits: Vec<SplitFeature>,
    pub leaf_values: Vec<f32>,
    pub leaf_len: usize,
}

impl RegressionTree {
    /// dlib: `std::vector<split_feature>` then `std::vector<matrix<float,0,1>>`. Every leaf
    /// must hold `leaf_len` values (twice the number of parts) and there must be one leaf more
    /// than splits, since the walk's leaf index is `node - splits.len()`.
    pub fn deserialize(de: &mut DlibDeserializer<'_>, leaf_len: usize) -> Result<Self> {
        let start = de.offset();
        // A split takes at least 6 bytes (three 2-byte integers).
        let num_splits = de.read_vec_len(6, "number of tree splits")?;
        let splits = (0..num_splits)
            .map(|_| SplitFeature::deserialize(de))
            .collect::<Result<Vec<_>>>()?;
        let leaves_at = de.offset();
        let num_leaves = de.read_vec_len(4, "number of tree leaves")?;
        if num_leaves != num_splits + 1 {
            return Err(de.error_at(
                leaves_at,
                format!(
                    "tree starting at byte {start} has {num_splits} splits but {num_leaves} leaves \
                     (dlib needs splits + 1)"
                ),
            ));
        }
        let mut leaf_values = Vec::with_capacity(num_leaves * leaf_len);
        for _ in 0..num_leaves {
            let at = de.offset();
            let leaf = de.read_column_f32("leaf value")?;
            if leaf.len() != leaf_len {
                return Err(de.error_at(
                    at,
                    format!("leaf holds {} values, the shape has {leaf_len}", leaf.len()),
                ));
            }
            leaf_values.extend_from_slice(&leaf);
        }
        Ok(Self {
            splits,
            leaf_values,
            leaf_len,
        })
    }

    pub fn num_leaves(&self) -> usize {
        self.splits.len() + 1
    }

    /// The leaf reached from the root for these feature pixel values (dlib's
    /// `regression_tree::operator()`).
    pub fn leaf_index(&self, feature_pixels: &[f32]) -> usize {
        let mut node = 0;
        while node < self.splits.len() {
            node = if self.splits[node].goes_left(feature_pixels) {
                2 * node + 1
            } else {
                2 * node + 2
            };
        }
        node - self.splits.len()
    }

    /// The shape increment stored at a leaf.
    pub fn leaf(&self, leaf_index: usize) -> &[f32] {
        &self.leaf_values[leaf_index * self.leaf_len..(leaf_index + 1) * self.leaf_len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_follows_the_pixel_difference_tests() {
        // Depth 2: root compares pixels 0 and 1, its children pixels 2 and 3.
        let split = |idx1, idx2, thresh| SplitFeature { idx1, idx2, thresh };
        let tree = RegressionTree {
            splits: vec![split(0, 1, 0.0), split(2, 3, 10.0), split(3, 2, -5.0)],
            leaf_values: vec![0.0, 1.0, 2.0, 3.0],
            leaf_len: 1,
        };
        // 5 - 1 > 0 -> left (node 1); 20 - 5 > 10 -> left (node 3) -> leaf 0.
        assert_eq!(tree.leaf_index(&[5.0, 1.0, 20.0, 5.0]), 0);
        // left, then 12 - 5 <= 10 -> right (node 4) -> leaf 1.
        assert_eq!(tree.leaf_index(&[5.0, 1.0, 12.0, 5.0]), 1);
        // 1 - 1 is not > 0 -> right (node 2); 5 - 12 > -5 is false -> node 6 -> leaf 3.
        assert_eq!(tree.leaf_index(&[1.0, 1.0, 12.0, 5.0]), 3);
        assert_eq!(tree.leaf(3), &[3.0]);
    }
}
