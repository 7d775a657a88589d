//! t-SNE (Fig. 2): joint probabilities against scikit-learn, cluster separation, determinism,
//! input validation.

use fer_report::{joint_probabilities, tsne, ReportError, TsneConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Point k = 0.5 · (k, k² mod 5, 3k mod 4): squared distances are multiples of 1/4, exact in
/// f32, so scikit-learn's cast of the distances to float32 changes nothing.
fn eight_points() -> Vec<[f64; 3]> {
    (0..8)
        .map(|k| {
            [
                0.5 * k as f64,
                0.5 * ((k * k) % 5) as f64,
                0.5 * ((3 * k) % 4) as f64,
            ]
        })
        .collect()
}

fn squared_distances(points: &[[f64; 3]]) -> Vec<Vec<f64>> {
    points
        .iter()
        .map(|a| {
            points
                .iter()
                .map(|b| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum())
                .collect()
        })
        .collect()
}

#[test]
fn joint_probabilities_match_scikit_learn() -> anyhow::Result<()> {
    // Produced with scikit-learn 1.9.1 (numpy float64, printed with repr):
    //
    //   import numpy as np
    //   from sklearn.manifold._t_sne import _joint_probabilities
    //   from scipy.spatial.distance import squareform
    //   x = np.array([[0.5 * k, 0.5 * ((k * k) % 5), 0.5 * ((3 * k) % 4)] for k in range(8)])
    //   d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    //   P = squareform(_joint_probabilities(d, 3.0, 0))
    //   for row in P:
    //       print("[" + ", ".join(repr(float(v)) for v in row) + "],")
    #[rustfmt::skip]
    let expected: [[f64; 8]; 8] = [
        [0.0, 0.06572566507305191, 0.006473733615173477, 0.004222430688829634, 0.015580120342924468, 0.0013665650233621327, 0.0003572773832114484, 6.641730106531046e-06],
        [0.06572566507305191, 0.0, 0.03868086456850883, 0.005850678456995823, 0.002350178269081191, 0.007496416365205687, 0.0005527421015339927, 1.241918836693481e-05],
        [0.006473733615173477, 0.03868086456850883, 0.0, 0.08408580062256937, 0.0053985594098512795, 0.0024410435561019956, 0.0019662902694142417, 0.0028033582633536017],
        [0.004222430688829634, 0.005850678456995823, 0.08408580062256937, 0.0, 0.019826766243262316, 0.0026408840351154453, 0.004064405464538814, 0.01707417135559797],
        [0.015580120342924468, 0.002350178269081191, 0.0053985594098512795, 0.019826766243262316, 0.0, 0.022868609690053165, 0.052620702647378836, 0.007405119674702918],
        [0.0013665650233621327, 0.007496416365205687, 0.0024410435561019956, 0.0026408840351154453, 0.022868609690053165, 0.0, 0.07771014103438262, 0.004124488954958563],
        [0.0003572773832114484, 0.0005527421015339927, 0.0019662902694142417, 0.004064405464538814, 0.052620702647378836, 0.07771014103438262, 0.0, 0.04629392597236678],
        [6.641730106531046e-06, 1.241918836693481e-05, 0.0028033582633536017, 0.01707417135559797, 0.007405119674702918, 0.004124488954958563, 0.04629392597236678, 0.0],
    ];
    let p = joint_probabilities(&squared_distances(&eight_points()), 3.0)?;
    assert_eq!(p.len(), 8);
    for (i, (row, want)) in p.iter().zip(&expected).enumerate() {
        assert_eq!(row.len(), 8);
        for (j, (got, want)) in row.iter().zip(want).enumerate() {
            // Relative: the entries span four decades (6.6e-6 to 0.084), and the binary
            // search for each row's precision follows scikit-learn's step for step.
            assert!(
                (got - want).abs() <= 1e-9 * want.abs() + 1e-15,
                "P[{i}][{j}] = {got}, scikit-learn {want}"
            );
        }
    }
    let total: f64 = p.iter().flatten().sum();
    assert!((total - 1.0).abs() < 1e-9, "P sums to {total}");
    Ok(())
}

#[test]
fn joint_probabilities_reject_bad_matrices() {
    let d = squared_distances(&eight_points());
    let mut not_square = d.clone();
    not_square[2].pop();
    let mut negative = d.clone();
    negative[1][3] = -1.0;
    for (what, m, perplexity) in [
        ("not square", not_square, 3.0),
        ("[1][3]", negative, 3.0),
        ("perplexity", d, 0.0),
    ] {
        let err = joint_probabilities(&m, perplexity).err();
        assert!(
            matches!(&err, Some(ReportError::Tsne { message }) if message.contains(what)),
            "{what}: {err:?}"
        );
    }
}

/// 3 clusters of 30 points in 10-D, N(centre, 1) around centres 20 apart on different axes.
fn three_clusters(seed: u64) -> (Vec<Vec<f32>>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut points = Vec::new();
    let mut labels = Vec::new();
    for c in 0..3 {
        for _ in 0..30 {
            let p: Vec<f32> = (0..10)
                .map(|d| {
                    // Sum of 12 uniforms - 6: approximately N(0, 1), enough for a test input.
                    let noise: f64 = (0..12).map(|_| rng.gen::<f64>()).sum::<f64>() - 6.0;
                    let centre = if d == 3 * c { 20.0 } else { 0.0 };
                    (centre + noise) as f32
                })
                .collect();
            points.push(p);
            labels.push(c);
        }
    }
    (points, labels)
}

#[test]
fn separated_clusters_stay_separated() -> anyhow::Result<()> {
    let (points, labels) = three_clusters(7);
    let y = tsne(&points, &TsneConfig::default())?;
    assert_eq!(y.len(), points.len());
    assert!(y.iter().flatten().all(|v| v.is_finite()));
    for (i, a) in y.iter().enumerate() {
        let nearest = y
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(j, b)| (j, (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)))
            .min_by(|x, z| x.1.total_cmp(&z.1))
            .map(|(j, _)| j)
            .ok_or_else(|| anyhow::anyhow!("no neighbour"))?;
        assert_eq!(
            labels[nearest], labels[i],
            "point {i} (cluster {}) has nearest neighbour {nearest} in cluster {}",
            labels[i], labels[nearest]
        );
    }
    // The embedding has grown from the 1e-4 start to a visible spread.
    let spread = y
        .iter()
        .map(|p| p[0].abs().max(p[1].abs()))
        .fold(0.0, f64::max);
    assert!(spread > 1.0, "embedding spread {spread}");
    Ok(())
}

#[test]
fn same_seed_same_embedding() -> anyhow::Result<()> {
    let (points, _) = three_clusters(3);
    let cfg = TsneConfig {
        iterations: 300,
        seed: 42,
        ..TsneConfig::default()
    };
    let a = tsne(&points, &cfg)?;
    let b = tsne(&points, &cfg)?;
    assert_eq!(a, b, "same seed must give bit-identical output");
    let c = tsne(&points, &TsneConfig { seed: 43, ..cfg })?;
    assert_ne!(a, c, "another seed should start elsewhere");
    Ok(())
}

#[test]
fn small_inputs_clamp_the_perplexity() -> anyhow::Result<()> {
    // 4 points cannot have 30 neighbours; the default config must still work.
    let points = vec![
        vec![0.0, 0.0],
        vec![0.1, 0.0],
        vec![10.0, 10.0],
        vec![10.1, 10.0],
    ];
    let y = tsne(&points, &TsneConfig::default())?;
    let d = |a: [f64; 2], b: [f64; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
    assert!(y.iter().flatten().all(|v| v.is_finite()));
    assert!(d(y[0], y[1]) < d(y[0], y[2]) && d(y[2], y[3]) < d(y[1], y[3]));
    Ok(())
}

#[test]
fn rejects_bad_input() {
    let cfg = TsneConfig::default();
    let cases: Vec<(&str, Vec<Vec<f32>>)> = vec![
        ("0 points", vec![]),
        ("ragged", vec![vec![0.0, 1.0], vec![1.0], vec![2.0, 2.0]]),
        (
            "point 1, dimension 0 is NaN",
            vec![vec![0.0], vec![f32::NAN], vec![1.0]],
        ),
        ("0 dimensions", vec![vec![], vec![]]),
    ];
    for (what, points) in cases {
        let err = tsne(&points, &cfg).err();
        assert!(
            matches!(&err, Some(ReportError::Tsne { message }) if message.contains(what)),
            "{what}: {err:?}"
        );
    }
    let ok = vec![vec![0.0], vec![1.0], vec![2.0]];
    let err = tsne(
        &ok,
        &TsneConfig {
            learning_rate: Some(-1.0),
            ..cfg
        },
    )
    .err();
    assert!(matches!(err, Some(ReportError::Tsne { .. })), "{err:?}");
}
