//! CCAM, SCAM and the mixing of eq. 1 (one Co-ATT unit) against an independent PyTorch
//! implementation of paper eqs. 1-13 (written after the reference code's `__CATT` and
//! `SpatialAttention`), on a small example with weights and inputs set by formula.
#![allow(clippy::unwrap_used)]

use candle_core::{DType, Device, Tensor};
use fer_models::nn::co_attention_unit::{CoAttentionModules, CoAttentionUnit};
use fer_models::{seeded_var_builder, ModelConfig, SpatialKernel};

const B: usize = 2;
const C: usize = 3;
const S: usize = 4;

/// value[i] = 0.5 sin(0.37 i + 0.91 k) for the k-th variable in name order (as `fill` below).
fn fill_by_formula(varmap: &candle_nn::VarMap) {
    let data = varmap.data().lock().unwrap();
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for (k, name) in names.iter().enumerate() {
        let var = &data[*name];
        let n = var.elem_count();
        let v: Vec<f64> = (0..n)
            .map(|i| 0.5 * (0.37 * i as f64 + 0.91 * k as f64).sin())
            .collect();
        let t = Tensor::from_vec(v, var.shape(), &Device::Cpu).unwrap();
        var.set(&t).unwrap();
    }
}

fn inputs() -> (Tensor, Tensor) {
    let n = B * C * S * S;
    let e: Vec<f64> = (0..n).map(|i| (0.13 * i as f64).sin() + 0.2).collect();
    let l: Vec<f64> = (0..n).map(|i| (0.29 * i as f64).cos()).collect();
    (
        Tensor::from_vec(e, (B, C, S, S), &Device::Cpu).unwrap(),
        Tensor::from_vec(l, (B, C, S, S), &Device::Cpu).unwrap(),
    )
}

fn row(t: &Tensor, b: usize, c: usize, y: usize) -> Vec<f64> {
    t.get(b)
        .unwrap()
        .get(c)
        .unwrap()
        .get(y)
        .unwrap()
        .to_vec1()
        .unwrap()
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 2e-8, "{what}: got {got:?}, want {want:?}");
    }
}

fn run(kernel: SpatialKernel) -> (Tensor, Tensor, Tensor) {
    let mut cfg = ModelConfig::paper().co_attention;
    cfg.spatial_kernel = kernel;
    let (varmap, vb) = seeded_var_builder(0, DType::F64, &Device::Cpu);
    let unit = CoAttentionUnit::new(S, CoAttentionModules::Both, &cfg, vb).unwrap();
    fill_by_formula(&varmap);
    let (e, l) = inputs();
    let out = unit.forward_t(&e, &l, true).unwrap();
    (out.fer, out.fld, out.spatial_map.unwrap())
}

fn sum(t: &Tensor) -> f64 {
    t.sum_all().unwrap().to_scalar().unwrap()
}

// Expected numbers: PyTorch 2.15 (float64), script below, run as `python co_att.py`.
//
// import math, torch
// torch.set_default_dtype(torch.float64)
// B, C, H, W = 2, 3, 4, 4
// HW = H * W
// D = int(HW * 0.5)
// def fill(shape, k):
//     n = math.prod(shape)
//     i = torch.arange(n, dtype=torch.float64)
//     return (0.5 * torch.sin(0.37 * i + 0.91 * k)).reshape(shape)
// def unit(kernel):
//     shapes = {
//         "alpha": (2,), "beta": (2,),
//         "ccam.fer_map.0.bias": (D,), "ccam.fer_map.0.weight": (D, HW),
//         "ccam.fer_map.2.bias": (D,), "ccam.fer_map.2.weight": (D, D),
//         "ccam.fld_map.0.bias": (D,), "ccam.fld_map.0.weight": (D, HW),
//         "ccam.fld_map.2.bias": (D,), "ccam.fld_map.2.weight": (D, D),
//         "scam.conv.weight": (1, 2, kernel, kernel),
//     }
//     if kernel == 3:
//         shapes.update({"scam.bn.bias": (1,), "scam.bn.running_mean": (1,),
//                        "scam.bn.running_var": (1,), "scam.bn.weight": (1,)})
//     return {name: fill(shapes[name], k) for k, name in enumerate(sorted(shapes))}
// n = B * C * H * W
// idx = torch.arange(n, dtype=torch.float64)
// e_in = (torch.sin(0.13 * idx) + 0.2).reshape(B, C, H, W)
// l_in = torch.cos(0.29 * idx).reshape(B, C, H, W)
// def emb(p, pre, x):
//     h = torch.relu(x.reshape(B * C, HW) @ p[pre + ".0.weight"].T + p[pre + ".0.bias"])
//     return (h @ p[pre + ".2.weight"].T + p[pre + ".2.bias"]).reshape(B, C, D)
// def co_att(p, kernel):
//     # CCAM, eqs. 2-8, as the reference code's __CATT
//     fe, fl = emb(p, "ccam.fer_map", e_in), emb(p, "ccam.fld_map", l_in)
//     s = torch.bmm(fe, fl.transpose(2, 1)) / math.sqrt(D)
//     a_e = torch.softmax(s, dim=1).sum(dim=2)
//     a_l = torch.softmax(s, dim=2).sum(dim=1)
//     e_c, l_c = a_e[:, :, None, None] * e_in, a_l[:, :, None, None] * l_in
//     # SCAM, eqs. 9-13
//     x = torch.cat([l_in, e_in], dim=1)
//     mx, av = x.max(dim=1, keepdim=True)[0], x.mean(dim=1, keepdim=True)
//     if kernel == 7:
//         a = torch.nn.functional.conv2d(torch.cat([mx, av], 1), p["scam.conv.weight"], padding=3)
//     else:
//         a = torch.nn.functional.conv2d(torch.cat([av, mx], 1), p["scam.conv.weight"], padding=1)
//         a = torch.nn.functional.batch_norm(a, p["scam.bn.running_mean"].clone(),
//             p["scam.bn.running_var"].clone(), p["scam.bn.weight"], p["scam.bn.bias"],
//             training=True, eps=1e-5)
//     a = torch.sigmoid(a)
//     e_s, l_s = a * e_in, a * l_in
//     # eq. 1
//     e_out = p["beta"][0] * l_c + p["beta"][1] * e_s
//     l_out = p["alpha"][0] * e_c + p["alpha"][1] * l_s
//     return e_out, l_out, a
// for kernel in (7, 3):
//     e_out, l_out, a = co_att(unit(kernel), kernel)
//     print(f"kernel {kernel}")
//     print("E_out[0,0,0,:] =", [round(v, 8) for v in e_out[0, 0, 0].tolist()],
//           " E_out[1,2,3,:] =", [round(v, 8) for v in e_out[1, 2, 3].tolist()])
//     print("L_out[0,1,2,:] =", [round(v, 8) for v in l_out[0, 1, 2].tolist()])
//     print("sum E_out =", round(e_out.sum().item(), 8), " sum L_out =",
//           round(l_out.sum().item(), 8), " sum A_s =", round(a.sum().item(), 8))

#[test]
fn co_att_unit_with_paper_7x7_scam_matches_pytorch() {
    let (e, l, a) = run(SpatialKernel::Paper7x7);
    assert_close(
        &row(&e, 0, 0, 0),
        &[0.20785584, 0.21677581, 0.19471644, 0.15576065],
        "E_out[0,0,0]",
    );
    assert_close(
        &row(&e, 1, 2, 3),
        &[-0.02232067, -0.01685184, -0.01384588, -0.0080028],
        "E_out[1,2,3]",
    );
    assert_close(
        &row(&l, 0, 1, 2),
        &[0.12082946, 0.08529359, 0.04264095, 0.00279558],
        "L_out[0,1,2]",
    );
    assert_close(
        &[sum(&e), sum(&l), sum(&a)],
        &[0.44369158, 0.26894616, 13.73367916],
        "sums",
    );
}

#[test]
fn co_att_unit_with_reference_3x3_bn_scam_matches_pytorch() {
    let (e, l, a) = run(SpatialKernel::Reference3x3BatchNorm);
    assert_close(
        &row(&e, 0, 0, 0),
        &[0.18458911, 0.21513017, 0.22224509, 0.21144615],
        "E_out[0,0,0]",
    );
    assert_close(
        &row(&e, 1, 2, 3),
        &[-0.09906004, -0.08501394, -0.04934488, -0.01039907],
        "E_out[1,2,3]",
    );
    assert_close(
        &row(&l, 0, 1, 2),
        &[0.06801132, 0.06300547, 0.03534517, 0.00240599],
        "L_out[0,1,2]",
    );
    assert_close(
        &[sum(&e), sum(&l), sum(&a)],
        &[1.43377561, 0.05500016, 17.23710467],
        "sums",
    );
}
