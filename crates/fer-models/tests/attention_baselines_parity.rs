//! The attention baselines of Tables 12 and 13 against PyTorch: SE (`se-net`, Hu et al. 2018),
//! CBAM's channel half (`cbam-c`, Woo et al. 2018) and DAM-CNN's salient region attention
//! (`dam-cnn`, the paper's ref. [51], as `salient_region_attention.rs` documents it), forward
//! and backward, with weights and inputs set by formula; in f64 (to 1e-10) and in f32, the
//! precision training uses (to 1e-4 relative). CBAM's spatial half is SCAM's map, checked in
//! co_attention_parity.rs.
//!
//! Expected numbers: PyTorch 2.15 (float64), this script, run as `python attention_baselines.py`:
//!
//! ```python
//! import math, torch
//! import torch.nn as nn
//! import torch.nn.functional as F
//! torch.set_default_dtype(torch.float64)
//! B, C, H, W, R = 2, 32, 5, 5, 16
//!
//! def fill(module):
//!     # value[i] = 0.5 sin(0.37 i + 0.91 k) for the k-th parameter in name order
//!     params = dict(module.named_parameters())
//!     with torch.no_grad():
//!         for k, name in enumerate(sorted(params)):
//!             p = params[name]
//!             i = torch.arange(p.numel(), dtype=torch.float64)
//!             p.copy_((0.5 * torch.sin(0.37 * i + 0.91 * k)).reshape(p.shape))
//!
//! def inputs(c, h, w):
//!     i = torch.arange(B * c * h * w, dtype=torch.float64)
//!     x = (torch.sin(0.13 * i) + 0.2).reshape(B, c, h, w).requires_grad_()
//!     g = torch.cos(0.17 * i).reshape(B, c, h, w)  # weights of the checksum loss
//!     return x, g
//!
//! class SE(nn.Module):  # Hu et al. 2018
//!     def __init__(self, c, r):
//!         super().__init__()
//!         self.fc1, self.fc2 = nn.Linear(c, c // r), nn.Linear(c // r, c)
//!     def forward(self, x):
//!         s = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3))))))
//!         return x * s[:, :, None, None]
//!
//! class CbamChannel(nn.Module):  # Woo et al. 2018, ChannelGate with avg and max pooling
//!     def __init__(self, c, r):
//!         super().__init__()
//!         self.mlp = nn.Sequential(nn.Linear(c, c // r), nn.ReLU(), nn.Linear(c // r, c))
//!     def forward(self, x):
//!         m = torch.sigmoid(self.mlp(x.mean(dim=(2, 3))) + self.mlp(x.amax(dim=(2, 3))))
//!         return x * m[:, :, None, None]
//!
//! class Serd(nn.Module):  # DAM-CNN's salient region attention, as fer-models documents it
//!     def __init__(self, c):
//!         super().__init__()
//!         self.score_hidden = nn.Conv2d(c, c // 8, 1)
//!         self.score_out = nn.Conv2d(c // 8, 1, 1, bias=False)
//!     def forward(self, x):
//!         b, _, h, w = x.shape
//!         e = self.score_out(torch.tanh(self.score_hidden(x)))
//!         a = torch.softmax(e.reshape(b, h * w), 1)
//!         return x * (h * w) * a.reshape(b, 1, h, w), a.reshape(b, h, w)
//!
//! def report(name, module, out, x, g):
//!     loss = (out * g).sum()
//!     loss.backward()
//!     print(name, 'sum(out) =', repr(out.sum().item()), '| sum(out*g) =', repr(loss.item()))
//!     print(name, 'out[1, 3, 2, :] =', [repr(v) for v in out[1, 3, 2].tolist()])
//!     print(name, 'sum(dx*g) =', repr((x.grad * g).sum().item()), '| dx[0, 5, 1, :] =',
//!           [repr(v) for v in x.grad[0, 5, 1].tolist()])
//!     for pname, p in sorted(module.named_parameters()):  # every parameter's gradient
//!         pw = torch.cos(0.23 * torch.arange(p.numel(), dtype=torch.float64)).reshape(p.shape)
//!         print(name, f'sum(d{pname}*cos(0.23 i)) =', repr((p.grad * pw).sum().item()))
//!
//! for name, module, c in [('se', SE(C, R), C), ('cbam-c', CbamChannel(C, R), C),
//!                         ('serd', Serd(C // 2), C // 2)]:
//!     fill(module)
//!     x, g = inputs(c, H, W)
//!     out = module(x)
//!     if name == 'serd':
//!         out, a = out
//!         print(name, 'A[1] =', [repr(v) for v in a[1].flatten().tolist()])
//!     report(name, module, out, x, g)
//! ```
#![allow(clippy::unwrap_used)]

use candle_core::{DType, Device, Tensor, Var};
use fer_models::nn::cbam_channel_attention::CbamChannelAttention;
use fer_models::nn::salient_region_attention::SalientRegionAttention;
use fer_models::nn::squeeze_excitation::SqueezeExcitation;
use fer_models::seeded_var_builder;

const B: usize = 2;
const C: usize = 32;
const S: usize = 5;
const R: usize = 16;

/// value[i] = 0.5 sin(0.37 i + 0.91 k) for the k-th variable in name order.
fn fill_by_formula(varmap: &candle_nn::VarMap) -> Vec<String> {
    let data = varmap.data().lock().unwrap();
    let mut names: Vec<String> = data.keys().cloned().collect();
    names.sort();
    for (k, name) in names.iter().enumerate() {
        let var = &data[name];
        let v: Vec<f64> = (0..var.elem_count())
            .map(|i| 0.5 * (0.37 * i as f64 + 0.91 * k as f64).sin())
            .collect();
        let t = Tensor::from_vec(v, var.shape(), &Device::Cpu)
            .unwrap()
            .to_dtype(var.dtype())
            .unwrap();
        var.set(&t).unwrap();
    }
    names
}

/// x = sin(0.13 i) + 0.2 (a variable, for its gradient) and the checksum weights cos(0.17 i).
fn inputs(c: usize, dtype: DType) -> (Var, Tensor) {
    let n = B * c * S * S;
    let x: Vec<f64> = (0..n).map(|i| (0.13 * i as f64).sin() + 0.2).collect();
    let g: Vec<f64> = (0..n).map(|i| (0.17 * i as f64).cos()).collect();
    let x = Tensor::from_vec(x, (B, c, S, S), &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap();
    let g = Tensor::from_vec(g, (B, c, S, S), &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap();
    (Var::from_tensor(&x).unwrap(), g)
}

/// What the script prints for one module.
struct Expected {
    sum: f64,
    checksum: f64,
    out_row: [f64; 5],
    dx_checksum: f64,
    dx_row: [f64; 5],
    /// sum(dp * cos(0.23 i)) for every parameter p, in name order.
    parameter_checksums: &'static [(&'static str, f64)],
}

fn f64s(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

fn scalar(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64).unwrap().to_scalar().unwrap()
}

fn close(got: f64, want: f64, dtype: DType, what: &str) {
    let tol = match dtype {
        DType::F64 => 1e-10,
        _ => 1e-4 * want.abs().max(1.0),
    };
    assert!(
        (got - want).abs() <= tol,
        "{what} ({dtype:?}): ours {got}, PyTorch {want}"
    );
}

/// Compares `out` (computed from `x`) and its gradients with the script's numbers.
fn check(
    what: &str,
    dtype: DType,
    out: &Tensor,
    (x, g): (&Var, &Tensor),
    varmap: &candle_nn::VarMap,
    want: &Expected,
) {
    let loss = (out * g).unwrap().sum_all().unwrap();
    close(
        scalar(&out.sum_all().unwrap()),
        want.sum,
        dtype,
        &format!("{what} sum(out)"),
    );
    close(
        scalar(&loss),
        want.checksum,
        dtype,
        &format!("{what} sum(out*g)"),
    );
    let row = f64s(&out.get(1).unwrap().get(3).unwrap().get(2).unwrap());
    for (k, (a, b)) in row.iter().zip(want.out_row).enumerate() {
        close(*a, b, dtype, &format!("{what} out[1, 3, 2, {k}]"));
    }
    let grads = loss.backward().unwrap();
    let dx = grads.get(x.as_tensor()).unwrap();
    close(
        scalar(&(dx * g).unwrap().sum_all().unwrap()),
        want.dx_checksum,
        dtype,
        &format!("{what} sum(dx*g)"),
    );
    let row = f64s(&dx.get(0).unwrap().get(5).unwrap().get(1).unwrap());
    for (k, (a, b)) in row.iter().zip(want.dx_row).enumerate() {
        close(*a, b, dtype, &format!("{what} dx[0, 5, 1, {k}]"));
    }
    let data = varmap.data().lock().unwrap();
    assert_eq!(
        want.parameter_checksums.len(),
        data.len(),
        "{what}: one checksum per parameter"
    );
    for &(name, want_checksum) in want.parameter_checksums {
        let w = data[name].as_tensor();
        let dw = grads.get(w).unwrap();
        let n = w.elem_count();
        let pw: Vec<f64> = (0..n).map(|i| (0.23 * i as f64).cos()).collect();
        let pw = Tensor::from_vec(pw, w.shape(), &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        close(
            scalar(&(dw * pw).unwrap().sum_all().unwrap()),
            want_checksum,
            dtype,
            &format!("{what} sum(d{name}*cos(0.23 i))"),
        );
    }
}

#[test]
fn squeeze_excitation_equals_pytorch() {
    let want = Expected {
        sum: 157.77199042323923,
        checksum: -3.4763539297831296,
        out_row: [
            0.5547731540455255,
            0.5271620883881826,
            0.4923145796508605,
            0.45081872179855703,
            0.40337480774917445,
        ],
        dx_checksum: 392.7915100188803,
        dx_row: [
            -0.43301173118757147,
            -0.4183896259684338,
            -0.3913772231800739,
            -0.35275330298754454,
            -0.30363141101573116,
        ],
        parameter_checksums: &[
            ("fc1.bias", -0.7053470841702387),
            ("fc1.weight", -0.8808622209383306),
            ("fc2.bias", -0.5843637106122817),
            ("fc2.weight", -1.6646271494663685),
        ],
    };
    for dtype in [DType::F64, DType::F32] {
        let (varmap, vb) = seeded_var_builder(0, dtype, &Device::Cpu);
        let se = SqueezeExcitation::new(C, R, vb).unwrap();
        let names = fill_by_formula(&varmap);
        assert_eq!(names, ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]);
        let (x, g) = inputs(C, dtype);
        let out = se.forward(x.as_tensor()).unwrap();
        check("se", dtype, &out, (&x, &g), &varmap, &want);
    }
}

#[test]
fn cbam_channel_attention_equals_pytorch() {
    let want = Expected {
        sum: 154.75582253068768,
        checksum: -5.580598636149004,
        out_row: [
            0.5402402140788417,
            0.5133524529950677,
            0.4794178160302438,
            0.4390089913312859,
            0.39280792681352933,
        ],
        dx_checksum: 383.53587604383176,
        dx_row: [
            -0.39158977325816974,
            -0.37810077845479517,
            -0.3531816470863549,
            -0.3175508093270225,
            -0.27223551883981634,
        ],
        parameter_checksums: &[
            ("mlp.0.bias", 0.4258177687245087),
            ("mlp.0.weight", 0.5351010603984308),
            ("mlp.2.bias", 6.028799568772569),
            ("mlp.2.weight", -3.6418598304765006),
        ],
    };
    for dtype in [DType::F64, DType::F32] {
        let (varmap, vb) = seeded_var_builder(0, dtype, &Device::Cpu);
        let cbam = CbamChannelAttention::new(C, R, vb).unwrap();
        let names = fill_by_formula(&varmap);
        assert_eq!(
            names,
            ["mlp.0.bias", "mlp.0.weight", "mlp.2.bias", "mlp.2.weight"]
        );
        let (x, g) = inputs(C, dtype);
        let out = cbam.forward(x.as_tensor()).unwrap();
        check("cbam-c", dtype, &out, (&x, &g), &varmap, &want);
    }
}

#[test]
fn salient_region_attention_equals_pytorch() {
    let want = Expected {
        sum: 176.6712998365778,
        checksum: -1.4241149978672296,
        out_row: [
            0.4334005984979843,
            0.5547105067108389,
            0.6658652712867053,
            0.7651747648576056,
            0.8513665399471594,
        ],
        dx_checksum: 402.65825977528857,
        dx_row: [
            -0.8913333519074441,
            -0.8760292096769319,
            -0.8368299102118746,
            -0.7740011770511813,
            -0.6883842629568282,
        ],
        parameter_checksums: &[
            ("score_hidden.bias", -0.0256668707033971),
            ("score_hidden.weight", 0.35337113938672937),
            ("score_out.weight", 0.8705026477946368),
        ],
    };
    let a1 = [
        0.044271646579229225,
        0.04440334842981453,
        0.04444013344479939,
        0.04438129876382798,
        0.044228121938515066,
        0.04398381741936299,
        0.043653461241184306,
        0.04324388241700537,
        0.0427635166832851,
        0.042222217282188536,
        0.04163101895197961,
        0.0410018552642266,
        0.040347235360624734,
        0.03967989291343094,
        0.03901242629391965,
        0.03835695296541646,
        0.03772480186390514,
        0.03712626454854822,
        0.03657041963184576,
        0.036065036633682185,
        0.03561655655655957,
        0.035230138717724825,
        0.034909757827519275,
        0.03465833246186706,
        0.0344778658095373,
    ];
    let c = C / 2;
    for dtype in [DType::F64, DType::F32] {
        let (varmap, vb) = seeded_var_builder(0, dtype, &Device::Cpu);
        let serd = SalientRegionAttention::new(c, vb).unwrap();
        let names = fill_by_formula(&varmap);
        assert_eq!(
            names,
            [
                "score_hidden.bias",
                "score_hidden.weight",
                "score_out.weight"
            ]
        );
        let (x, g) = inputs(c, dtype);
        let (out, a) = serd.forward(x.as_tensor()).unwrap();
        for (k, (got, want)) in f64s(&a.get(1).unwrap()).iter().zip(a1).enumerate() {
            close(*got, want, dtype, &format!("serd A[1] entry {k}"));
        }
        check("serd", dtype, &out, (&x, &g), &varmap, &want);
    }
}
