//! `dwa`: Dynamic Weight Average (Liu, Johns & Davison, "End-to-end multi-task learning with
//! attention", CVPR 2019, eq. 7): w_i(t) = K exp(r_i(t-1)/T) / Σ_k exp(r_k(t-1)/T) with
//! r_i(t-1) = L_i(t-1) / L_i(t-2) the ratio of the last two epochs' mean training losses, K = 2
//! tasks, temperature T = 2; weights 1 in the first two epochs (as LibMTL's `DWA`).

use std::collections::BTreeMap;

use crate::error::Result;
use crate::weighting::scalar_adam::softmax;
use crate::weighting::task_weighting::{
    positive, state_value, StepInput, StepWeights, TaskWeighting, WeightingEntry, WeightingParam,
};

pub const ENTRY: WeightingEntry = WeightingEntry {
    name: "dwa",
    summary: "Dynamic Weight Average: weights from the last two epochs' loss ratios (Liu et al., CVPR 2019)",
    needs_gradients: false,
    needs_losses_after_update: false,
    constant: false,
    params: &[WeightingParam {
        name: "temperature",
        default: 2.0,
        range: "> 0",
        valid: positive,
    }],
    build: |w, _| Ok(Box::new(Dwa::new(w.param("temperature")))),
};

/// The mean losses of the last two finished epochs.
#[derive(Debug, Clone)]
pub struct Dwa {
    temperature: f64,
    /// [epoch t-2, epoch t-1], each [FER, FLD]; fewer than two epochs: weights 1.
    history: Vec<[f64; 2]>,
}

impl Dwa {
    pub fn new(temperature: f64) -> Self {
        Self {
            temperature,
            history: Vec::new(),
        }
    }

    /// The weights after the epochs of `history` (oldest first).
    pub fn weights_after(&self) -> [f64; 2] {
        match self.history.as_slice() {
            [.., before, last] => {
                let r: Vec<f64> = (0..2)
                    .map(|i| last[i] / before[i] / self.temperature)
                    .collect();
                let s = softmax(&r);
                [2.0 * s[0], 2.0 * s[1]]
            }
            _ => [1.0, 1.0],
        }
    }
}

impl TaskWeighting for Dwa {
    fn weights(&mut self, _step: &StepInput) -> Result<StepWeights> {
        Ok(StepWeights::of_losses(self.weights_after()))
    }

    fn end_epoch(&mut self, mean_losses: [f64; 2]) {
        self.history.push(mean_losses);
        if self.history.len() > 2 {
            self.history.remove(0);
        }
    }

    fn state(&self) -> Vec<(String, f64)> {
        let mut out = vec![("dwa.epochs".to_string(), self.history.len() as f64)];
        for (e, l) in self.history.iter().enumerate() {
            out.push((format!("dwa.loss{e}.fer"), l[0]));
            out.push((format!("dwa.loss{e}.fld"), l[1]));
        }
        out
    }

    fn load_state(&mut self, state: &BTreeMap<String, f64>) -> Result<()> {
        let n = state_value(state, "dwa.epochs")? as usize;
        self.history = (0..n.min(2))
            .map(|e| {
                Ok([
                    state_value(state, &format!("dwa.loss{e}.fer"))?,
                    state_value(state, &format!("dwa.loss{e}.fld"))?,
                ])
            })
            .collect::<Result<_>>()?;
        Ok(())
    }
}
