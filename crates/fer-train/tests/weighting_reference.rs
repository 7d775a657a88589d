//! The weighting methods' arithmetic against LibMTL's own classes (and the FAMO authors'
//! code) on fixed two-task cases. The expected numbers are pasted from
//! tests/data/weighting_reference.txt, the output of tests/data/weighting_reference.py, which
//! runs LibMTL (median-research-group/LibMTL at 4336804, float64) on these gradients and
//! losses and checks each against a numpy version of the formula.
//!
//! Shared gradients: g1 = [1.0, -2.0, 0.5, 3.0, 0.25] and, conflicting, g2 =
//! [-1.5, 0.5, 2.0, -1.0, 0.75] or, aligned, g2 = [0.5, -1.0, 1.0, 2.0, -0.5]. Each method's
//! update of the shared parameters is c1 g1 + c2 g2; the tests compare that vector with
//! LibMTL's new shared gradient.
//!
//! Beside each test, the numpy form of the formula that LibMTL's number was also checked
//! against (numpy 2.4, float64; each prints the test's numbers to within 1e-15), on
//!
//! ```python
//! import math, numpy as np
//! g1 = [1.0, -2.0, 0.5, 3.0, 0.25]
//! G  = np.array([g1, [-1.5, 0.5, 2.0, -1.0, 0.75]])   # conflicting
//! GB = np.array([g1, [0.5, -1.0, 1.0, 2.0, -0.5]])    # aligned
//! ```

use fer_train::adam::AdamConfig;
use fer_train::weighting::{
    aligned_mtl::aligned_mtl_coefficients,
    ca_grad::cagrad_coefficients,
    dwa::Dwa,
    famo::{famo_logit_gradient, famo_weights, Famo},
    grad_norm::gradnorm_terms,
    pc_grad::pcgrad_coefficients,
    uncertainty::uncertainty_terms,
    StepInput, TaskWeighting,
};

const G1: [f64; 5] = [1.0, -2.0, 0.5, 3.0, 0.25];
const G2: [f64; 5] = [-1.5, 0.5, 2.0, -1.0, 0.75];
const G2B: [f64; 5] = [0.5, -1.0, 1.0, 2.0, -0.5];

fn dot(a: &[f64; 5], b: &[f64; 5]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn gram(g2: &[f64; 5]) -> [f64; 3] {
    [dot(&G1, &G1), dot(&G1, g2), dot(g2, g2)]
}

fn combined(c: [f64; 2], g2: &[f64; 5]) -> Vec<f64> {
    (0..5).map(|i| c[0] * G1[i] + c[1] * g2[i]).collect()
}

fn assert_close(ours: &[f64], theirs: &[f64], tol: f64, what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}");
    for (a, b) in ours.iter().zip(theirs) {
        assert!(
            (a - b).abs() <= tol,
            "{what}: ours {ours:?}, LibMTL {theirs:?}"
        );
    }
}

#[test]
fn pcgrad_equals_libmtl() {
    // === A. PCGrad (LibMTL PCGrad.backward) === conflicting, both inner orders:
    // numpy:
    //   def pcgrad(G):  # LibMTL PCGrad, float64; either inner order gives the same here
    //       pc = G.copy()
    //       for i, j in ((0, 1), (1, 0)):
    //           gij = pc[i] @ G[j]
    //           if gij < 0:
    //               pc[i] = pc[i] - gij * G[j] / (G[j] @ G[j] + 1e-8)
    //       return pc.sum(0)
    //   print(pcgrad(G), pcgrad(GB))
    let conflicting = [
        -1.0010155369426164,
        -1.8351782267817944,
        3.720422462262422,
        2.369046410105989,
        1.476490301064508,
    ];
    let c = pcgrad_coefficients(gram(&G2));
    assert_close(&c, &[1.3013100434576, 1.5348837202668109], 1e-12, "weights");
    assert_close(&combined(c, &G2), &conflicting, 1e-12, "conflicting");
    // aligned: the plain sum g1 + g2.
    let aligned = [1.5, -3.0, 1.5, 5.0, -0.25];
    let c = pcgrad_coefficients(gram(&G2B));
    assert_close(&combined(c, &G2B), &aligned, 1e-12, "aligned");
}

#[test]
fn cagrad_equals_libmtl_to_its_solver_accuracy() {
    // === B. CAGrad, calpha=0.5, rescale=1 ===
    // numpy:
    //   def cagrad(G, calpha=0.5):  # LibMTL CAGrad, rescale=1, with the exact w* (bisection on f')
    //       A = G @ G.T; b = np.ones(2) / 2; dx = np.array([1., -1.])
    //       c = calpha * math.sqrt(A.mean() + 1e-8) + 1e-8
    //       x = lambda t: np.array([t, 1 - t])
    //       df = lambda t: dx @ A @ b + c * (dx @ A @ x(t)) / math.sqrt(x(t) @ A @ x(t) + 1e-8)
    //       if df(0.0) >= 0: t = 0.0
    //       elif df(1.0) <= 0: t = 1.0
    //       else:
    //           lo, hi = 0.0, 1.0
    //           for _ in range(200):
    //               mid = (lo + hi) / 2; lo, hi = (lo, mid) if df(mid) > 0 else (mid, hi)
    //           t = (lo + hi) / 2
    //       gw = x(t) @ G
    //       return t, (G.mean(0) + c / (np.linalg.norm(gw) + 1e-8) * gw) / (1 + calpha ** 2)
    //   print(cagrad(G), cagrad(GB))
    // conflicting: exact w* (bisection on f'(t)) = [0.15776028883580784, 0.8422397111641922];
    // LibMTL's SLSQP stops at w = [0.1577667136961126, ...], 6.4e-6 away.
    let (w, c) = cagrad_coefficients(gram(&G2), 0.5);
    assert!((w - 0.15776028883580784).abs() < 1e-9, "w {w}");
    let exact = [
        -0.5692997060310461,
        -0.5647270190306792,
        1.5890092211865254,
        0.6767578854367418,
        0.6241719674839856,
    ];
    assert_close(&combined(c, &G2), &exact, 1e-9, "conflicting, exact w*");
    let slsqp = [
        -0.5692979432725316,
        -0.5647320401862557,
        1.5890117477681849,
        0.6767652676062517,
        0.6241730812109606,
    ];
    assert_close(
        &combined(c, &G2),
        &slsqp,
        1e-5,
        "conflicting, LibMTL's SLSQP",
    );
    // aligned: w* = [0, 1] (on the boundary).
    let (w, c) = cagrad_coefficients(gram(&G2B), 0.5);
    assert!(w.abs() < 1e-9, "w {w}");
    let aligned = [
        0.8435711876174082,
        -1.6871423752348165,
        1.0871423752348166,
        2.974284750469633,
        -0.3435711876174083,
    ];
    assert_close(&combined(c, &G2B), &aligned, 1e-9, "aligned");
}

#[test]
fn aligned_mtl_equals_libmtl() {
    // === C. Aligned-MTL (LibMTL Aligned_MTL.backward) ===
    // numpy:
    //   def aligned_mtl(G):  # LibMTL Aligned_MTL, float64
    //       lam, V = np.linalg.eigh(G @ G.T)
    //       keep = lam > lam.max() * 2 * np.finfo(np.float64).eps
    //       lam, V = lam[keep], V[:, keep]
    //       alpha = (math.sqrt(lam.min()) * (V @ np.diag(1 / np.sqrt(lam)) @ V.T)).sum(0)
    //       return alpha, alpha @ G
    //   print(aligned_mtl(G), aligned_mtl(GB))
    let c = aligned_mtl_coefficients(gram(&G2));
    assert_close(
        &c,
        &[0.8429623302643843, 1.0801381471683484],
        1e-12,
        "alpha",
    );
    let conflicting = [
        -0.7772448904881384,
        -1.1458555869445943,
        2.5817574594688892,
        1.4487488436248044,
        1.0208441929423575,
    ];
    assert_close(&combined(c, &G2), &conflicting, 1e-12, "conflicting");
    let c = aligned_mtl_coefficients(gram(&G2B));
    assert_close(
        &c,
        &[0.05870999789812331, 0.3858686018614521],
        1e-12,
        "alpha",
    );
    let aligned = [
        0.25164429882884937,
        -0.5032885976576987,
        0.4152236008105138,
        0.9478671974172741,
        -0.1782568014561952,
    ];
    assert_close(&combined(c, &G2B), &aligned, 1e-12, "aligned");
}

#[test]
fn aligned_mtl_alpha_may_be_negative() {
    // tests/data/aligned_mtl_signs.py (numpy version of LibMTL's Aligned_MTL):
    // near-parallel [0.8101118341911402, -0.047170175444417636] rank 2
    // anti-parallel [-0.19999999999999996, 0.5999999999999999] rank 1
    let near_parallel = aligned_mtl_coefficients([1.0, 4.5, 25.0]);
    assert_close(
        &near_parallel,
        &[0.8101118341911402, -0.047170175444417636],
        1e-12,
        "near-parallel",
    );
    let anti_parallel = aligned_mtl_coefficients([1.0, -3.0, 9.0]);
    assert_close(
        &anti_parallel,
        &[-0.19999999999999996, 0.5999999999999999],
        1e-12,
        "anti-parallel",
    );
    // Such an α is Aligned-MTL's update, not a broken weight: the run's check lets it pass.
    let w = fer_train::weighting::StepWeights::of_signed_shared_gradients(near_parallel);
    assert_eq!(w.first_invalid(), None);
    let w = fer_train::weighting::StepWeights::of_shared_gradients(near_parallel);
    assert_eq!(w.first_invalid(), Some(("shared FLD", near_parallel[1])));
    let w = fer_train::weighting::StepWeights::of_signed_shared_gradients([f64::NAN, 1.0]);
    assert!(w.first_invalid().is_some());
}

#[test]
fn gradnorm_equals_libmtl() {
    // === D. GradNorm, alpha=1.5, theta=[0.3,-0.2], L=[1.2,0.7], L0=[2.0,0.9] (epoch>=1) ===
    // numpy:
    //   def gradnorm(G, theta=np.array([0.3, -0.2]), L=np.array([1.2, 0.7]),
    //                L0=np.array([2.0, 0.9]), alpha=1.5):  # LibMTL GradNorm at epoch >= 1
    //       z = np.exp(theta - theta.max()); z /= z.sum(); w = 2 * z
    //       gn = np.linalg.norm(G, axis=1); Gp = w * gn
    //       r = (L / L0) / (L / L0).mean()
    //       s = np.sign(Gp - Gp.mean() * r ** alpha)
    //       dtheta = (2 * (np.diag(z) - np.outer(z, z))).T @ (s * gn)
    //       return w, dtheta, w @ G
    //   print(gradnorm(G), gradnorm(GB))
    let (w, d) = gradnorm_terms([0.3, -0.2], gram(&G2), [1.2, 0.7], [2.0, 0.9], 1.5);
    assert_close(
        &w,
        &[1.2449186624037092, 0.7550813375962909],
        1e-12,
        "loss_weight",
    );
    assert_close(
        &d,
        &[3.1126902795920364, -3.112690279592037],
        1e-12,
        "theta.grad",
    );
    let conflicting = [
        0.11229665600927285,
        -2.112296656009273,
        2.1326220063944366,
        2.9796746496148367,
        0.8775406687981455,
    ];
    assert_close(&combined(w, &G2), &conflicting, 1e-12, "conflicting");
    let (w, d) = gradnorm_terms([0.3, -0.2], gram(&G2B), [1.2, 0.7], [2.0, 0.9], 1.5);
    assert_close(
        &d,
        &[2.9764142513590293, -2.9764142513590293],
        1e-12,
        "theta.grad",
    );
    let aligned = [
        1.6224593312018547,
        -3.2449186624037094,
        1.3775406687981455,
        5.24491866240371,
        -0.06631100319721817,
    ];
    assert_close(&combined(w, &G2B), &aligned, 1e-12, "aligned");
}

#[test]
fn uncertainty_equals_libmtl() {
    // === E. UW (LibMTL UW.backward), s=[0.1,-0.3], L=[1.2,0.7] ===
    // numpy:
    //   s = np.array([0.1, -0.3]); L = np.array([1.2, 0.7])   # LibMTL UW
    //   print((L / (2 * np.exp(s)) + s / 2).sum(), 1 / (2 * np.exp(s)),
    //         -L / (2 * np.exp(s)) + 0.5)
    let (w, offset, ds) = uncertainty_terms([0.1, -0.3], [1.2, 0.7]);
    let total = w[0] * 1.2 + w[1] * 0.7 + offset;
    assert!((total - 0.9153530334731769).abs() < 1e-12, "{total}");
    assert_close(
        &w,
        &[0.45241870901797976, 0.6749294037880016],
        1e-12,
        "dL/dL_i",
    );
    assert_close(
        &ds,
        &[-0.04290245082157573, 0.027549417348398886],
        1e-12,
        "dL/ds",
    );
}

#[test]
fn dwa_equals_libmtl() {
    // === F. DWA, T=2, history epoch t-2=[2.0,1.0], t-1=[1.5,0.9] ===
    // numpy:
    //   r = np.array([1.5 / 2.0, 0.9 / 1.0]) / 2.0            # LibMTL DWA, T = 2, epoch 2
    //   print(2 * np.exp(r) / np.exp(r).sum())
    let mut d = Dwa::new(2.0);
    let step = StepInput {
        losses: [1.0, 1.0],
        gram: None,
        global_step: 0,
        epoch: 0,
        lr: 0.01,
    };
    assert_eq!(d.weights(&step).unwrap().shared, [1.0, 1.0]);
    d.end_epoch([2.0, 1.0]);
    assert_eq!(d.weights(&step).unwrap().shared, [1.0, 1.0]);
    d.end_epoch([1.5, 0.9]);
    let w = d.weights(&step).unwrap();
    assert_close(
        &w.shared,
        &[0.9625175682429293, 1.0374824317570703],
        1e-12,
        "epoch 2",
    );
    assert_eq!(w.shared, w.specific);
}

#[test]
fn famo_equals_libmtl_and_the_authors_code() {
    // === G. FAMO, w=[0.2,-0.1], L=[1.2,0.7], L'=[1.0,0.72] ===
    // numpy:
    //   L = np.array([1.2, 0.7]); Lp = np.array([1.0, 0.72]); w0 = np.array([0.2, -0.1])
    //   # FAMO (LibMTL, the authors' famo.py)
    //   z = np.exp(w0 - w0.max()); z /= z.sum()
    //   D = L + 1e-8; weights = z / ((z / D).sum() * D)
    //   delta = np.log(L + 1e-8) - np.log(Lp + 1e-8)
    //   d = z * (delta - (z * delta).sum())
    //   g = d + 0.001 * w0  # Adam, lr 0.025, wd 0.001, step 1
    //   m1 = 0.1 * g; v1 = 0.001 * g ** 2
    //   print(weights, d, w0 - (0.025 / 0.1) * m1 / (np.sqrt(v1) / math.sqrt(0.001) + 1e-8))
    let w = famo_weights([0.2, -0.1], [1.2, 0.7]);
    assert_close(
        &w,
        &[0.4405336636181558, 0.5594663363818443],
        1e-12,
        "dloss/dL_i",
    );
    let d = famo_logit_gradient([0.2, -0.1], [1.2, 0.7], [1.0, 0.72]);
    assert_close(
        &d,
        &[0.051456624476367105, -0.05145662447636712],
        1e-12,
        "d",
    );
    // One Adam step (lr 0.025, wd 0.001) from logits [0.2, -0.1]: the method starts at
    // [0, 0], so the case is set through its state.
    let mut f = Famo::new(0.025, 0.001);
    let state: std::collections::BTreeMap<String, f64> = [
        ("famo.logits.steps", 0.0),
        ("famo.logits.p0", 0.2),
        ("famo.logits.m0", 0.0),
        ("famo.logits.v0", 0.0),
        ("famo.logits.p1", -0.1),
        ("famo.logits.m1", 0.0),
        ("famo.logits.v1", 0.0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    f.load_state(&state).unwrap();
    let step = StepInput {
        losses: [1.2, 0.7],
        gram: None,
        global_step: 0,
        epoch: 0,
        lr: 0.01,
    };
    let weights = f.weights(&step).unwrap();
    assert_close(&weights.shared, &w, 0.0, "weights");
    f.after_update([1.0, 0.72]);
    let after: std::collections::BTreeMap<String, f64> = f.state().into_iter().collect();
    assert_close(
        &[after["famo.logits.p0"], after["famo.logits.p1"]],
        &[0.17500000483964942, -0.07500000484903646],
        1e-12,
        "logits after one Adam step",
    );
    let _ = AdamConfig::paper();
}
