//! The small anti-aliased software rasteriser that draws SynthFER faces (issue: "render with
//! anti-aliasing so 48 px looks like a face").
//!
//! Every shape is a polygon (curves are sampled Catmull-Rom splines, strokes are offset
//! outlines). Coverage is computed by scanline: 5 sub-rows per pixel row, and on each sub-row
//! the exact covered length of every pixel, so a polygon edge gets ~5x5-supersampling quality
//! at the cost of one sorted crossing list per sub-row. Non-zero winding lets one fill combine
//! several contours (a ring = outer contour + reversed inner contour).
//!
//! All coordinates are pixel-index coordinates (the centre of the top-left pixel is (0, 0)),
//! the same convention as [`crate::Landmarks68`], so the landmarks and the drawing agree exactly.

use image::GrayImage;

/// A 2-D point or vector.
pub(crate) type P2 = [f32; 2];

/// Sub-rows per pixel row of the scanline coverage.
const SUB_ROWS: usize = 5;

pub(crate) fn add(a: P2, b: P2) -> P2 {
    [a[0] + b[0], a[1] + b[1]]
}

pub(crate) fn sub(a: P2, b: P2) -> P2 {
    [a[0] - b[0], a[1] - b[1]]
}

pub(crate) fn scale(a: P2, s: f32) -> P2 {
    [a[0] * s, a[1] * s]
}

pub(crate) fn lerp(a: P2, b: P2, t: f32) -> P2 {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
}

pub(crate) fn dist(a: P2, b: P2) -> f32 {
    let d = sub(a, b);
    (d[0] * d[0] + d[1] * d[1]).sqrt()
}

pub(crate) fn mean(points: &[P2]) -> P2 {
    let n = points.len().max(1) as f32;
    let s = points.iter().fold([0.0, 0.0], |acc, p| add(acc, *p));
    scale(s, 1.0 / n)
}

/// Unit vector along `v`, or +x for a (near) zero vector.
fn normalize(v: P2) -> P2 {
    let l = (v[0] * v[0] + v[1] * v[1]).sqrt();
    if l < 1e-9 {
        [1.0, 0.0]
    } else {
        [v[0] / l, v[1] / l]
    }
}

/// Open uniform Catmull-Rom spline through `points` with `per_seg` samples per segment; the
/// curve passes through every input point (so landmarks lie exactly on the drawn feature).
pub(crate) fn catmull_rom(points: &[P2], per_seg: usize) -> Vec<P2> {
    let n = points.len();
    if n < 3 || per_seg < 2 {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity((n - 1) * per_seg + 1);
    for i in 0..n - 1 {
        let p0 = points[i.saturating_sub(1)];
        let p1 = points[i];
        let p2 = points[i + 1];
        let p3 = points[(i + 2).min(n - 1)];
        for k in 0..per_seg {
            let t = k as f32 / per_seg as f32;
            let (t2, t3) = (t * t, t * t * t);
            let c = |a: f32, b: f32, c: f32, d: f32| {
                0.5 * (2.0 * b
                    + (-a + c) * t
                    + (2.0 * a - 5.0 * b + 4.0 * c - d) * t2
                    + (-a + 3.0 * b - 3.0 * c + d) * t3)
            };
            out.push([c(p0[0], p1[0], p2[0], p3[0]), c(p0[1], p1[1], p2[1], p3[1])]);
        }
    }
    out.push(points[n - 1]);
    out
}

/// Closed polygon approximating an ellipse with centre `c` and semi-axis vectors `ax`, `ay`.
pub(crate) fn ellipse(c: P2, ax: P2, ay: P2, n: usize) -> Vec<P2> {
    (0..n)
        .map(|k| {
            let t = k as f32 / n as f32 * std::f32::consts::TAU;
            add(c, add(scale(ax, t.cos()), scale(ay, t.sin())))
        })
        .collect()
}

/// Outline polygon of a stroke along an open polyline; `width(t)` is the full width at
/// parameter t in [0, 1] along the line.
pub(crate) fn stroke_outline(line: &[P2], width: impl Fn(f32) -> f32) -> Vec<P2> {
    let n = line.len();
    if n < 2 {
        return Vec::new();
    }
    let mut left = Vec::with_capacity(2 * n);
    let mut right = Vec::with_capacity(n);
    for (i, &p) in line.iter().enumerate() {
        let a = line[i.saturating_sub(1)];
        let b = line[(i + 1).min(n - 1)];
        let t = normalize(sub(b, a));
        let nrm = [-t[1], t[0]];
        let hw = 0.5 * width(i as f32 / (n - 1) as f32);
        left.push(add(p, scale(nrm, hw)));
        right.push(sub(p, scale(nrm, hw)));
    }
    left.extend(right.into_iter().rev());
    left
}

/// The two contours (outer, reversed inner) of a stroke of constant `width` along a closed ring.
pub(crate) fn ring_outline(ring: &[P2], width: f32) -> [Vec<P2>; 2] {
    let n = ring.len();
    let mut outer = Vec::with_capacity(n);
    let mut inner = Vec::with_capacity(n);
    for (i, &p) in ring.iter().enumerate() {
        let a = ring[(i + n - 1) % n];
        let b = ring[(i + 1) % n];
        let t = normalize(sub(b, a));
        let nrm = [-t[1], t[0]];
        outer.push(add(p, scale(nrm, 0.5 * width)));
        inner.push(sub(p, scale(nrm, 0.5 * width)));
    }
    inner.reverse();
    [outer, inner]
}

/// Adds `weight` times the covered length of [xa, xb) to each pixel of one row
/// (row-relative area coordinates: pixel i covers [i, i + 1)).
fn add_span(row: &mut [f32], xa: f32, xb: f32, weight: f32) {
    let len = row.len() as f32;
    let xa = xa.clamp(0.0, len);
    let xb = xb.clamp(0.0, len);
    // NaN crossings (degenerate input) are skipped rather than trusted.
    if xa.is_nan() || xb.is_nan() || xb <= xa {
        return;
    }
    // Both are in [0, len] and xa < xb <= len, so `ia < row.len()`.
    let ia = xa as usize;
    let ib = xb as usize;
    if ia == ib {
        row[ia] += (xb - xa) * weight;
        return;
    }
    row[ia] += (ia as f32 + 1.0 - xa) * weight;
    for v in &mut row[ia + 1..ib] {
        *v += weight;
    }
    if ib < row.len() {
        row[ib] += (xb - ib as f32) * weight;
    }
}

/// Per-pixel coverage (0..1) of a set of contours, over their bounding box clipped to the image.
#[derive(Debug, Clone)]
pub(crate) struct Coverage {
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
    cov: Vec<f32>,
}

impl Coverage {
    fn empty() -> Self {
        Self {
            x0: 0,
            y0: 0,
            w: 0,
            h: 0,
            cov: Vec::new(),
        }
    }

    /// Coverage of the union (non-zero winding) of `contours` on a `size` x `size` image.
    pub(crate) fn of_contours(contours: &[&[P2]], size: usize) -> Self {
        let (mut minx, mut miny) = (f32::INFINITY, f32::INFINITY);
        let (mut maxx, mut maxy) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
        for p in contours.iter().flat_map(|c| c.iter()) {
            minx = minx.min(p[0]);
            miny = miny.min(p[1]);
            maxx = maxx.max(p[0]);
            maxy = maxy.max(p[1]);
        }
        if !(minx.is_finite() && miny.is_finite() && maxx.is_finite() && maxy.is_finite()) {
            return Self::empty();
        }
        // Area coordinates: pixel i covers [i, i + 1) = pixel-index coordinate + 0.5.
        let x0 = (minx + 0.5).floor().max(0.0) as usize;
        let y0 = (miny + 0.5).floor().max(0.0) as usize;
        let x1 = ((maxx + 0.5).ceil().max(0.0) as usize).min(size);
        let y1 = ((maxy + 0.5).ceil().max(0.0) as usize).min(size);
        if x1 <= x0 || y1 <= y0 {
            return Self::empty();
        }
        let (w, h) = (x1 - x0, y1 - y0);
        let mut cov = vec![0.0f32; w * h];
        let mut xs: Vec<(f32, i32)> = Vec::with_capacity(16);
        let weight = 1.0 / SUB_ROWS as f32;
        for (row, row_cov) in cov.chunks_exact_mut(w).enumerate() {
            for s in 0..SUB_ROWS {
                // Sub-row centre in pixel-index coordinates.
                let yy = (y0 + row) as f32 - 0.5 + (s as f32 + 0.5) * weight;
                xs.clear();
                for c in contours {
                    let n = c.len();
                    if n < 3 {
                        continue;
                    }
                    for i in 0..n {
                        let a = c[i];
                        let b = c[(i + 1) % n];
                        // Half-open test so a vertex on the sub-row is counted once.
                        if (a[1] <= yy) != (b[1] <= yy) {
                            let t = (yy - a[1]) / (b[1] - a[1]);
                            let x = a[0] + t * (b[0] - a[0]) + 0.5 - x0 as f32;
                            xs.push((x, if b[1] > a[1] { 1 } else { -1 }));
                        }
                    }
                }
                if xs.len() < 2 {
                    continue;
                }
                xs.sort_by(|p, q| p.0.total_cmp(&q.0));
                let mut wind = 0;
                let mut start = 0.0;
                for &(x, d) in &xs {
                    let inside = wind != 0;
                    wind += d;
                    if !inside && wind != 0 {
                        start = x;
                    } else if inside && wind == 0 {
                        add_span(row_cov, start, x, weight);
                    }
                }
            }
        }
        Self { x0, y0, w, h, cov }
    }

    /// Multiplies this coverage by `clip` (intersection of soft shapes).
    pub(crate) fn intersect(&mut self, clip: &Coverage) {
        for row in 0..self.h {
            let y = self.y0 + row;
            for col in 0..self.w {
                let x = self.x0 + col;
                let c = clip.at(x, y);
                self.cov[row * self.w + col] *= c;
            }
        }
    }

    /// Coverage at pixel (x, y); 0 outside the bounding box.
    pub(crate) fn at(&self, x: usize, y: usize) -> f32 {
        if x < self.x0 || y < self.y0 || x >= self.x0 + self.w || y >= self.y0 + self.h {
            return 0.0;
        }
        self.cov[(y - self.y0) * self.w + (x - self.x0)]
    }

    /// Total covered area in pixels.
    pub(crate) fn area(&self) -> f32 {
        self.cov.iter().map(|c| c.min(1.0)).sum()
    }
}

/// A soft elliptical blob: `centre`, and the points `centre + axis_x`, `centre + axis_y`, so
/// that it can be posed like any other point set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SoftBlob {
    pub centre: P2,
    pub ax: P2,
    pub ay: P2,
}

impl SoftBlob {
    pub(crate) fn new(centre: P2, semi_x: f32, semi_y: f32) -> Self {
        Self {
            centre,
            ax: add(centre, [semi_x, 0.0]),
            ay: add(centre, [0.0, semi_y]),
        }
    }

    pub(crate) fn map(&self, f: &impl Fn(P2) -> P2) -> Self {
        Self {
            centre: f(self.centre),
            ax: f(self.ax),
            ay: f(self.ay),
        }
    }

    /// (u, v) such that p = centre + u (ax - centre) + v (ay - centre).
    pub(crate) fn local(&self, p: P2) -> P2 {
        let e1 = sub(self.ax, self.centre);
        let e2 = sub(self.ay, self.centre);
        let det = e1[0] * e2[1] - e1[1] * e2[0];
        if det.abs() < 1e-12 {
            return [f32::INFINITY, f32::INFINITY];
        }
        let d = sub(p, self.centre);
        [
            (d[0] * e2[1] - d[1] * e2[0]) / det,
            (e1[0] * d[1] - e1[1] * d[0]) / det,
        ]
    }

    fn radius_px(&self) -> f32 {
        dist(self.ax, self.centre) + dist(self.ay, self.centre)
    }
}

/// A grayscale float image (0 = black, 1 = white) being painted.
#[derive(Debug, Clone)]
pub(crate) struct Canvas {
    pub size: usize,
    pub px: Vec<f32>,
}

impl Canvas {
    pub(crate) fn new(size: usize) -> Self {
        Self {
            size,
            px: vec![0.0; size * size],
        }
    }

    /// Sets every pixel to `f(x, y)`.
    pub(crate) fn paint_all(&mut self, f: impl Fn(f32, f32) -> f32) {
        let n = self.size;
        for (i, v) in self.px.iter_mut().enumerate() {
            *v = f((i % n) as f32, (i / n) as f32);
        }
    }

    /// Replaces every pixel v at (x, y) by `f(x, y, v)`.
    pub(crate) fn map_all(&mut self, f: impl Fn(f32, f32, f32) -> f32) {
        let n = self.size;
        for (i, v) in self.px.iter_mut().enumerate() {
            *v = f((i % n) as f32, (i / n) as f32, *v);
        }
    }

    /// Blends `paint(x, y) = (value, alpha)` over the covered pixels.
    pub(crate) fn blend(&mut self, cov: &Coverage, paint: impl Fn(f32, f32) -> (f32, f32)) {
        for row in 0..cov.h {
            let y = cov.y0 + row;
            let line = &mut self.px[y * self.size + cov.x0..y * self.size + cov.x0 + cov.w];
            for (col, (v, &c)) in line
                .iter_mut()
                .zip(&cov.cov[row * cov.w..(row + 1) * cov.w])
                .enumerate()
            {
                if c <= 0.0 {
                    continue;
                }
                let (value, alpha) = paint((cov.x0 + col) as f32, y as f32);
                let a = c.min(1.0) * alpha.clamp(0.0, 1.0);
                *v += (value - *v) * a;
            }
        }
    }

    /// Fills a polygon with a flat value.
    pub(crate) fn fill(&mut self, poly: &[P2], value: f32, alpha: f32) {
        let cov = Coverage::of_contours(&[poly], self.size);
        self.blend(&cov, |_, _| (value, alpha));
    }

    /// Fills a polygon with a shaded value.
    pub(crate) fn fill_with(&mut self, poly: &[P2], paint: impl Fn(f32, f32) -> (f32, f32)) {
        let cov = Coverage::of_contours(&[poly], self.size);
        self.blend(&cov, paint);
    }

    /// Strokes an open polyline; `width(t)` is in pixels.
    pub(crate) fn stroke(
        &mut self,
        line: &[P2],
        width: impl Fn(f32) -> f32,
        value: f32,
        alpha: f32,
    ) {
        if alpha <= 0.0 {
            return;
        }
        let outline = stroke_outline(line, width);
        self.fill(&outline, value, alpha);
    }

    /// Strokes a closed ring with a constant width in pixels.
    pub(crate) fn stroke_ring(&mut self, ring: &[P2], width: f32, value: f32, alpha: f32) {
        let [outer, inner] = ring_outline(ring, width);
        let cov = Coverage::of_contours(&[&outer, &inner], self.size);
        self.blend(&cov, |_, _| (value, alpha));
    }

    /// Paints a soft elliptical blob: alpha = strength * (1 - r^2)^2 inside the ellipse.
    pub(crate) fn soft_blob(&mut self, blob: &SoftBlob, value: f32, strength: f32) {
        if strength <= 0.0 {
            return;
        }
        let r = blob.radius_px();
        let n = self.size as f32;
        let x0 = (blob.centre[0] - r).floor().clamp(0.0, n) as usize;
        let x1 = (blob.centre[0] + r).ceil().clamp(0.0, n - 1.0) as usize;
        let y0 = (blob.centre[1] - r).floor().clamp(0.0, n) as usize;
        let y1 = (blob.centre[1] + r).ceil().clamp(0.0, n - 1.0) as usize;
        for y in y0..=y1.min(self.size - 1) {
            for x in x0..=x1.min(self.size - 1) {
                let [u, v] = blob.local([x as f32, y as f32]);
                let r2 = u * u + v * v;
                if r2 < 1.0 {
                    let a = strength * (1.0 - r2) * (1.0 - r2);
                    let p = &mut self.px[y * self.size + x];
                    *p += (value - *p) * a.min(1.0);
                }
            }
        }
    }

    /// Separable Gaussian blur with standard deviation `sigma` pixels (edges clamped).
    pub(crate) fn gaussian_blur(&mut self, sigma: f32) {
        if sigma < 0.05 || self.size == 0 {
            return;
        }
        let radius = ((3.0 * sigma).ceil() as usize).clamp(1, self.size);
        let mut kernel: Vec<f32> = (0..=2 * radius)
            .map(|k| {
                let d = k as f32 - radius as f32;
                (-0.5 * d * d / (sigma * sigma)).exp()
            })
            .collect();
        let total: f32 = kernel.iter().sum();
        for k in &mut kernel {
            *k /= total;
        }
        let n = self.size;
        let last = n as isize - 1;
        let mut tmp = vec![0.0f32; n * n];
        for y in 0..n {
            for x in 0..n {
                let mut acc = 0.0;
                for (k, w) in kernel.iter().enumerate() {
                    let xx = (x as isize + k as isize - radius as isize).clamp(0, last) as usize;
                    acc += w * self.px[y * n + xx];
                }
                tmp[y * n + x] = acc;
            }
        }
        for y in 0..n {
            for x in 0..n {
                let mut acc = 0.0;
                for (k, w) in kernel.iter().enumerate() {
                    let yy = (y as isize + k as isize - radius as isize).clamp(0, last) as usize;
                    acc += w * tmp[yy * n + x];
                }
                self.px[y * n + x] = acc;
            }
        }
    }

    /// Quantises to 8 bits (values are clamped to [0, 1]).
    pub(crate) fn to_gray(&self) -> GrayImage {
        let n = self.size as u32;
        let mut img = GrayImage::new(n, n);
        for (dst, &v) in img.as_mut().iter_mut().zip(&self.px) {
            *dst = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
        img
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_of_an_axis_aligned_square_is_exact() {
        // The square covering pixels 2..=5 fully (pixel-index edges at 1.5 and 5.5).
        let sq = [[1.5, 1.5], [5.5, 1.5], [5.5, 5.5], [1.5, 5.5]];
        let cov = Coverage::of_contours(&[&sq], 10);
        assert!((cov.area() - 16.0).abs() < 1e-3, "area {}", cov.area());
        assert!((cov.at(3, 3) - 1.0).abs() < 1e-5);
        assert_eq!(cov.at(1, 3), 0.0);
        // Half-pixel shifted square: edge pixels are half covered.
        let sq = [[2.0, 2.0], [5.0, 2.0], [5.0, 5.0], [2.0, 5.0]];
        let cov = Coverage::of_contours(&[&sq], 10);
        assert!((cov.area() - 9.0).abs() < 1e-3);
        assert!((cov.at(2, 3) - 0.5).abs() < 1e-3);
        assert!((cov.at(2, 2) - 0.25).abs() < 0.06);
    }

    #[test]
    fn ring_has_a_hole_and_clipping_works() {
        let ring = ellipse([10.0, 10.0], [6.0, 0.0], [0.0, 6.0], 48);
        let [o, i] = ring_outline(&ring, 2.0);
        let cov = Coverage::of_contours(&[&o, &i], 21);
        assert_eq!(cov.at(10, 10), 0.0);
        assert!(cov.at(16, 10) > 0.9);
        let circle = ellipse([10.0, 10.0], [5.0, 0.0], [0.0, 5.0], 48);
        let mut c = Coverage::of_contours(&[&circle], 21);
        let half = [[0.0, 0.0], [10.0, 0.0], [10.0, 20.0], [0.0, 20.0]];
        c.intersect(&Coverage::of_contours(&[&half], 21));
        let area = c.area();
        // half of a disc of radius 5 (polygon approximation, about 39 px)
        assert!((area - 39.0).abs() < 2.0, "area {area}");
    }

    #[test]
    fn catmull_rom_passes_through_its_points() {
        let pts = [[0.0, 0.0], [1.0, 2.0], [3.0, 1.0], [4.0, 4.0]];
        let c = catmull_rom(&pts, 4);
        assert_eq!(c.len(), 13);
        for (k, p) in pts.iter().enumerate() {
            assert!(dist(c[4 * k], *p) < 1e-6);
        }
    }

    #[test]
    fn blur_keeps_mean_brightness() {
        let mut c = Canvas::new(16);
        c.paint_all(|x, _| if x < 8.0 { 0.0 } else { 1.0 });
        let before: f32 = c.px.iter().sum();
        c.gaussian_blur(1.0);
        let after: f32 = c.px.iter().sum();
        assert!((before - after).abs() < 1e-2);
        assert!(c.px[7] > 0.0 && c.px[8] < 1.0);
    }
}
