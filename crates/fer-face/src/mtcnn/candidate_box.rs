//! A face candidate travelling through the MTCNN cascade (Zhang et al. 2016): its box
//! (x1, y1, x2, y2) in image pixels, its probability from the latest stage and the box
//! regression that stage predicted, with facenet-pytorch's box arithmetic (`generateBoundingBox`,
//! the P-Net regression, `bbreg`, `rerec`). All in f32, in torch's order of operations, since
//! the boxes are truncated to integer crops where one ulp can move a pixel.

/// One candidate face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CandidateBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
    pub score: f32,
    /// Box regression (dx1, dy1, dx2, dy2) of the stage that produced `score`.
    pub regression: [f32; 4],
}

/// P-Net's receptive field: it scores 12x12 windows ...
const P_NET_CELL_SIZE: f32 = 12.0;
/// ... every 2 pixels (one max-pooling of stride 2).
const P_NET_STRIDE: f32 = 2.0;

impl CandidateBox {
    /// The image-space window of P-Net's output cell (`column`, `row`) at pyramid `scale`
    /// (`generateBoundingBox`): corners floor((2 c + 1) / s) and floor((2 c + 12) / s).
    pub fn from_p_net_cell(
        column: usize,
        row: usize,
        scale: f32,
        score: f32,
        regression: [f32; 4],
    ) -> CandidateBox {
        let corner =
            |cell: usize, extra: f32| ((P_NET_STRIDE * cell as f32 + extra) / scale).floor();
        CandidateBox {
            x1: corner(column, 1.0),
            y1: corner(row, 1.0),
            x2: corner(column, P_NET_CELL_SIZE),
            y2: corner(row, P_NET_CELL_SIZE),
            score,
            regression,
        }
    }

    pub fn corners(&self) -> [f32; 4] {
        [self.x1, self.y1, self.x2, self.y2]
    }

    /// Stage 1's regression: offsets scaled by the box's width x2 - x1 (no +1 here, unlike
    /// `bbreg` in stages 2 and 3 — facenet-pytorch inherits both from the original code).
    pub fn apply_p_net_regression(&mut self) {
        let width = self.x2 - self.x1;
        let height = self.y2 - self.y1;
        let [dx1, dy1, dx2, dy2] = self.regression;
        *self = CandidateBox {
            x1: self.x1 + dx1 * width,
            y1: self.y1 + dy1 * height,
            x2: self.x2 + dx2 * width,
            y2: self.y2 + dy2 * height,
            ..*self
        };
    }

    /// `bbreg` of R-Net and O-Net: offsets scaled by the inclusive size x2 - x1 + 1.
    pub fn apply_bbreg(&mut self) {
        let width = self.x2 - self.x1 + 1.0;
        let height = self.y2 - self.y1 + 1.0;
        let [dx1, dy1, dx2, dy2] = self.regression;
        *self = CandidateBox {
            x1: self.x1 + dx1 * width,
            y1: self.y1 + dy1 * height,
            x2: self.x2 + dx2 * width,
            y2: self.y2 + dy2 * height,
            ..*self
        };
    }

    /// `rerec`: the square of side max(w, h) with the same centre, so that the next network's
    /// square input does not distort the face.
    pub fn make_square(&mut self) {
        let height = self.y2 - self.y1;
        let width = self.x2 - self.x1;
        let side = width.max(height);
        self.x1 = self.x1 + width * 0.5 - side * 0.5;
        self.y1 = self.y1 + height * 0.5 - side * 0.5;
        self.x2 = self.x1 + side;
        self.y2 = self.y1 + side;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_net_cell_window() {
        // Cell (3, 1) at scale 0.5: x from floor(7 / 0.5) = 14 to floor(18 / 0.5) = 36.
        let b = CandidateBox::from_p_net_cell(3, 1, 0.5, 0.9, [0.0; 4]);
        assert_eq!(b.corners(), [14.0, 6.0, 36.0, 28.0]);
    }

    #[test]
    fn regressions_and_square() {
        let mut b = CandidateBox {
            x1: 10.0,
            y1: 20.0,
            x2: 30.0,
            y2: 60.0,
            score: 1.0,
            regression: [0.1, -0.1, 0.2, 0.0],
        };
        let close = |got: [f32; 4], want: [f32; 4]| {
            assert!(
                got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-5),
                "{got:?}"
            );
        };
        let mut p = b;
        p.apply_p_net_regression();
        close(p.corners(), [12.0, 16.0, 34.0, 60.0]);
        // Widths 21 and 41 (inclusive).
        b.apply_bbreg();
        close(b.corners(), [12.1, 15.9, 34.2, 60.0]);
        let mut s = CandidateBox {
            x1: 10.0,
            y1: 20.0,
            x2: 30.0,
            y2: 60.0,
            ..b
        };
        s.make_square();
        assert_eq!(s.corners(), [0.0, 20.0, 40.0, 60.0]);
    }
}
