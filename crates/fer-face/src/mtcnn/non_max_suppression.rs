//! Greedy non-maximum suppression in the two variants facenet-pytorch's MTCNN uses: torchvision's
//! `nms` (IoU of continuous boxes) after P-Net and R-Net, and its own `nms_numpy` with the
//! 'Min' overlap of the original MATLAB MTCNN (intersection over the smaller box, pixel-inclusive
//! +1 sizes) after O-Net.

use super::candidate_box::CandidateBox;

/// How the overlap of two boxes is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// torchvision: intersection / union with areas (x2 - x1)(y2 - y1).
    IntersectionOverUnion,
    /// facenet-pytorch `nms_numpy(..., 'Min')`: intersection / min(area) with inclusive
    /// sizes (x2 - x1 + 1)(y2 - y1 + 1).
    IntersectionOverMinimum,
}

impl Overlap {
    fn pixel_extra(self) -> f32 {
        match self {
            Overlap::IntersectionOverUnion => 0.0,
            Overlap::IntersectionOverMinimum => 1.0,
        }
    }
}

/// Indices of the boxes kept, most probable first: repeatedly keep the most probable remaining
/// box and drop every remaining box whose overlap with it exceeds `threshold`. Ties in score go
/// to the earlier box for [`Overlap::IntersectionOverUnion`] (torchvision) and to the later
/// box for [`Overlap::IntersectionOverMinimum`] (facenet-pytorch's `nms_numpy`).
pub fn non_max_suppression(boxes: &[CandidateBox], threshold: f32, overlap: Overlap) -> Vec<usize> {
    let extra = overlap.pixel_extra();
    let area = |b: &CandidateBox| (b.x2 - b.x1 + extra) * (b.y2 - b.y1 + extra);
    let areas: Vec<f32> = boxes.iter().map(area).collect();
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    // Equal scores are common, not rare: candidates whose boxes overhang the image all get the
    // same clamped crop, hence the same R-Net / O-Net score, yet have different boxes. Which
    // one survives follows the reference's sort. torchvision sorts stably in descending order
    // (the earlier candidate first); `nms_numpy` takes the last of numpy's ascending argsort,
    // which for the few candidates of one image is an insertion sort, hence stable (the later
    // candidate first).
    order.sort_by(|&a, &b| boxes[a].score.total_cmp(&boxes[b].score));
    match overlap {
        Overlap::IntersectionOverUnion => {
            order.sort_by(|&a, &b| boxes[b].score.total_cmp(&boxes[a].score))
        }
        Overlap::IntersectionOverMinimum => order.reverse(),
    }
    let mut suppressed = vec![false; boxes.len()];
    let mut keep = Vec::new();
    for (rank, &i) in order.iter().enumerate() {
        if suppressed[i] {
            continue;
        }
        keep.push(i);
        let a = &boxes[i];
        for &j in &order[rank + 1..] {
            if suppressed[j] {
                continue;
            }
            let b = &boxes[j];
            let w = (a.x2.min(b.x2) - a.x1.max(b.x1) + extra).max(0.0);
            let h = (a.y2.min(b.y2) - a.y1.max(b.y1) + extra).max(0.0);
            let intersection = w * h;
            let measure = match overlap {
                Overlap::IntersectionOverUnion => {
                    intersection / (areas[i] + areas[j] - intersection)
                }
                Overlap::IntersectionOverMinimum => intersection / areas[i].min(areas[j]),
            };
            if measure > threshold {
                suppressed[j] = true;
            }
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x1: f32, y1: f32, x2: f32, y2: f32, score: f32) -> CandidateBox {
        CandidateBox {
            x1,
            y1,
            x2,
            y2,
            score,
            regression: [0.0; 4],
        }
    }

    #[test]
    fn iou_suppresses_overlapping_lower_scores() {
        let boxes = [
            b(0.0, 0.0, 10.0, 10.0, 0.8),
            b(1.0, 0.0, 11.0, 10.0, 0.9), // IoU with the first 90/110 = 0.82
            b(20.0, 20.0, 30.0, 30.0, 0.7),
            b(5.0, 0.0, 15.0, 10.0, 0.6), // IoU with the second 60/140 = 0.43
        ];
        assert_eq!(
            non_max_suppression(&boxes, 0.5, Overlap::IntersectionOverUnion),
            vec![1, 2, 3]
        );
        assert_eq!(
            non_max_suppression(&boxes, 0.4, Overlap::IntersectionOverUnion),
            vec![1, 2]
        );
        assert!(non_max_suppression(&[], 0.5, Overlap::IntersectionOverUnion).is_empty());
    }

    #[test]
    fn ties_go_to_the_earlier_box_in_torchvision_and_the_later_in_nms_numpy() {
        let boxes = [b(0.0, 0.0, 10.0, 10.0, 0.9), b(0.0, 0.0, 11.0, 11.0, 0.9)];
        assert_eq!(
            non_max_suppression(&boxes, 0.5, Overlap::IntersectionOverUnion),
            vec![0]
        );
        assert_eq!(
            non_max_suppression(&boxes, 0.5, Overlap::IntersectionOverMinimum),
            vec![1]
        );
    }

    #[test]
    fn min_overlap_suppresses_a_box_inside_another() {
        // A small box inside a big one: IoU 36/441 is low, but intersection over the smaller
        // box is 1.
        let boxes = [b(0.0, 0.0, 20.0, 20.0, 0.9), b(5.0, 5.0, 10.0, 10.0, 0.95)];
        assert_eq!(
            non_max_suppression(&boxes, 0.7, Overlap::IntersectionOverUnion),
            vec![1, 0]
        );
        assert_eq!(
            non_max_suppression(&boxes, 0.7, Overlap::IntersectionOverMinimum),
            vec![1]
        );
        // Inclusive sizes: boxes touching at x = 10 overlap by one pixel column, 11/121.
        let touching = [b(0.0, 0.0, 10.0, 10.0, 0.9), b(10.0, 0.0, 20.0, 10.0, 0.8)];
        assert_eq!(
            non_max_suppression(&touching, 0.09, Overlap::IntersectionOverMinimum),
            vec![0]
        );
        assert_eq!(
            non_max_suppression(&touching, 0.1, Overlap::IntersectionOverMinimum),
            vec![0, 1]
        );
    }
}
