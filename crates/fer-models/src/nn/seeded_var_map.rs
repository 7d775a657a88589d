//! A `VarBuilder` backend that initialises every new variable from a seeded generator.
//!
//! Why: candle's CPU random initialisers draw from a thread-local generator that cannot be
//! seeded, and ARCHITECTURE.md "Conventions" promises that the same seed gives the same numbers on
//! the CPU. The variables live in an ordinary `candle_nn::VarMap`, so saving, loading and the
//! optimiser work as usual. Values are drawn in construction order, which is fixed by the model
//! code.

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::init::{FanInOut, NormalOrUniform};
use candle_nn::{Init, VarBuilder, VarMap};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Mutex;

/// The backend: new names get seeded values, known names return the existing variable.
pub struct SeededVarMap {
    map: VarMap,
    rng: Mutex<ChaCha8Rng>,
}

/// A fresh `VarMap` and a `VarBuilder` that fills it deterministically from `seed`.
pub fn seeded_var_builder(
    seed: u64,
    dtype: DType,
    device: &Device,
) -> (VarMap, VarBuilder<'static>) {
    let map = VarMap::new();
    let backend = SeededVarMap {
        map: map.clone(),
        rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
    };
    let vb = VarBuilder::from_backend(Box::new(backend), dtype, device.clone());
    (map, vb)
}

/// Standard normal sample by Box-Muller (rand 0.8 has no normal distribution without rand_distr).
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn fan(shape: &Shape, which: FanInOut) -> usize {
    let dims = shape.dims();
    let receptive: usize = dims.iter().skip(2).product();
    match (which, dims.len()) {
        (_, 0) => 1,
        (_, 1) => dims[0],
        (FanInOut::FanIn, _) => dims[1] * receptive,
        (FanInOut::FanOut, _) => dims[0] * receptive,
    }
}

impl SeededVarMap {
    fn initial_values(&self, shape: &Shape, init: Init) -> candle_core::Result<Vec<f64>> {
        let n = shape.elem_count();
        let mut rng = self
            .rng
            .lock()
            .map_err(|_| candle_core::Error::Msg("seeded initialiser lock poisoned".into()))?;
        let values = match init {
            Init::Const(v) => vec![v; n],
            Init::Uniform { lo, up } => (0..n).map(|_| rng.gen_range(lo..=up)).collect(),
            Init::Randn { mean, stdev } => (0..n)
                .map(|_| mean + stdev * standard_normal(&mut rng))
                .collect(),
            Init::Kaiming {
                dist,
                fan: which,
                non_linearity,
            } => {
                let f = fan(shape, which) as f64;
                let std = non_linearity.gain() / f.sqrt();
                match dist {
                    NormalOrUniform::Normal => {
                        (0..n).map(|_| std * standard_normal(&mut rng)).collect()
                    }
                    NormalOrUniform::Uniform => {
                        let bound = 3f64.sqrt() * std;
                        (0..n).map(|_| rng.gen_range(-bound..=bound)).collect()
                    }
                }
            }
        };
        Ok(values)
    }
}

impl candle_nn::var_builder::SimpleBackend for SeededVarMap {
    fn get(
        &self,
        s: Shape,
        name: &str,
        h: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let data = self.map.data();
        let mut vars = data
            .lock()
            .map_err(|_| candle_core::Error::Msg("var map lock poisoned".into()))?;
        if let Some(v) = vars.get(name) {
            if v.shape() != &s {
                candle_core::bail!(
                    "variable {name}: shape {:?} requested, {:?} stored",
                    s,
                    v.shape()
                );
            }
            return Ok(v.as_tensor().clone());
        }
        // Initial values are drawn in f64: that buffer is the largest of the three.
        crate::memory_limit::check_tensor(
            &format!("parameter {name} {:?}", s.dims()),
            s.elem_count(),
            8,
        )?;
        let values = self.initial_values(&s, h)?;
        let t = Tensor::from_vec(values, s, dev)?.to_dtype(dtype)?;
        let var = Var::from_tensor(&t)?;
        let out = var.as_tensor().clone();
        vars.insert(name.to_string(), var);
        Ok(out)
    }

    fn get_unchecked(
        &self,
        name: &str,
        _dtype: DType,
        _dev: &Device,
    ) -> candle_core::Result<Tensor> {
        candle_core::bail!("variable {name}: its shape is needed to create it")
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.map
            .data()
            .lock()
            .map(|m| m.contains_key(name))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_values() {
        let dev = Device::Cpu;
        let make = |seed| {
            let (_, vb) = seeded_var_builder(seed, DType::F32, &dev);
            vb.get_with_hints((3, 4), "w", Init::Uniform { lo: -1.0, up: 1.0 })
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        assert_eq!(make(1), make(1));
        assert_ne!(make(1), make(2));
        assert!(make(1).iter().all(|v| (-1.0..=1.0).contains(v)));
    }
}
