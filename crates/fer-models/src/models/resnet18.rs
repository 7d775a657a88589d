//! `resnet18`: ResNet-18 (He et al. 2016, the paper's [42]) exactly as torchvision builds it, the
//! single-task FER baseline "ResNet18*" of paper 5.2 (Tables 5-8) and the backbone of
//! CMCNN-ResNet18.
//!
//! Layout (torchvision `resnet18`): conv1 7x7 stride 2 pad 3 (no bias) -> bn1 -> ReLU ->
//! max pool 3x3 stride 2 pad 1 -> layer1..layer4 of two BasicBlocks each (widths 64, 128,
//! 256, 512; the first block of layers 2-4 has stride 2 and a 1x1 stride-2 convolution + batch
//! norm shortcut, `downsample.0` / `downsample.1`) -> adaptive average pool to 1x1 -> fc.
//! Parameter names are torchvision's (`conv1.weight`, `layer2.0.downsample.1.running_var`,
//! `fc.bias`, ...), so torchvision / timm checkpoints converted to safetensors load as they are
//! (`pretrained_weights`). Batch norm uses torchvision's eps 1e-5 and momentum 0.1, not the
//! 1e-3 of the BaseDCNN reference code (`ModelConfig::bn_eps` is not used here), because
//! pretrained statistics were estimated with 1e-5.
//!
//! The paper uses MS-Celeb-1M pretrained weights on 100x100 inputs; at 100 px the feature maps
//! are 50 (conv1), 25 (max pool, layer1), 13, 7, 4 (layers 2-4). Any input of at least 32 px
//! works, since the final pooling is adaptive.
//!
//! Initialisation as torchvision: convolutions kaiming_normal_(mode='fan_out', relu), i.e.
//! N(0, 2 / (C_out k k)); batch norm weight 1, bias 0; fc PyTorch's default uniform.

use candle_core::{Module, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::error::{ModelError, Result};
use crate::model_config::ModelConfig;
use crate::multi_task_model::MultiTaskModel;
use crate::nn::layers::{self, Linear};
use crate::ops::fused_batch_norm::FusedBatchNorm;
use crate::ops::gemm_conv2d::GemmConv2d;
use crate::ops::max_pool::max_pool2d_with;
use crate::task_outputs::{TaskOutputs, Tasks};

/// torchvision's batch-norm epsilon (`nn.BatchNorm2d` default).
pub const BN_EPS: f64 = 1e-5;
/// Output channels of layer1..layer4.
pub const STAGE_CHANNELS: [usize; 4] = [64, 128, 256, 512];
/// BasicBlocks per stage (ResNet-18: [2, 2, 2, 2]).
const BLOCKS_PER_STAGE: usize = 2;
/// The smallest input side the model accepts (layer4 is then 1x1).
pub const MIN_INPUT_SIZE: usize = 32;

/// A bias-free convolution with torchvision's ResNet initialisation:
/// kaiming_normal_(mode='fan_out', nonlinearity='relu') = N(0, sqrt(2 / (C_out k k))).
fn conv(
    in_c: usize,
    out_c: usize,
    k: usize,
    stride: usize,
    pad: usize,
    vb: VarBuilder,
) -> candle_core::Result<GemmConv2d> {
    let fan_out = (out_c * k * k) as f64;
    let init = Init::Randn {
        mean: 0.0,
        stdev: (2.0 / fan_out).sqrt(),
    };
    let w = vb.get_with_hints((out_c, in_c, k, k), "weight", init)?;
    Ok(GemmConv2d::with_stride(w, None, pad, stride))
}

/// Output side of a convolution or pooling (floor mode).
fn out_side(n: usize, k: usize, stride: usize, pad: usize) -> usize {
    (n + 2 * pad).saturating_sub(k) / stride + 1
}

/// torchvision's `BasicBlock`: conv3x3(stride) -> bn -> ReLU -> conv3x3 -> bn, plus the
/// identity or the 1x1 downsampling shortcut, then ReLU.
#[derive(Debug, Clone)]
struct BasicBlock {
    conv1: GemmConv2d,
    bn1: FusedBatchNorm,
    conv2: GemmConv2d,
    bn2: FusedBatchNorm,
    downsample: Option<(GemmConv2d, FusedBatchNorm)>,
}

impl BasicBlock {
    fn new(in_c: usize, out_c: usize, stride: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        // torchvision adds the shortcut projection whenever the shape changes.
        let downsample = if stride != 1 || in_c != out_c {
            let d = vb.pp("downsample");
            Some((
                conv(in_c, out_c, 1, stride, 0, d.pp("0"))?,
                layers::batch_norm(out_c, BN_EPS, d.pp("1"))?,
            ))
        } else {
            None
        };
        Ok(Self {
            conv1: conv(in_c, out_c, 3, stride, 1, vb.pp("conv1"))?,
            bn1: layers::batch_norm(out_c, BN_EPS, vb.pp("bn1"))?,
            conv2: conv(out_c, out_c, 3, 1, 1, vb.pp("conv2"))?,
            bn2: layers::batch_norm(out_c, BN_EPS, vb.pp("bn2"))?,
            downsample,
        })
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let y = self.bn1.forward_relu_t(&self.conv1.forward(x)?, train)?;
        let y = self.bn2.forward_t(&self.conv2.forward(&y)?, train)?;
        let shortcut = match &self.downsample {
            Some((c, bn)) => bn.forward_t(&c.forward(x)?, train)?,
            None => x.clone(),
        };
        (y + shortcut)?.relu()
    }
}

/// ResNet-18 with a `num_classes` fully connected classifier.
#[derive(Debug, Clone)]
pub struct ResNet18 {
    conv1: GemmConv2d,
    bn1: FusedBatchNorm,
    stages: Vec<Vec<BasicBlock>>,
    fc: Linear,
    in_channels: usize,
}

impl ResNet18 {
    /// Builds the model under `vb` (parameter names relative to it: `conv1.weight`, ...; a
    /// two-column model passes `vb.pp("fer_net")`). Uses `cfg.in_channels`, `cfg.num_classes`
    /// and checks `cfg.input_size >= 32`.
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        if cfg.input_size < MIN_INPUT_SIZE {
            return Err(ModelError::Config(format!(
                "resnet18 needs input_size >= {MIN_INPUT_SIZE}, got {}",
                cfg.input_size
            )));
        }
        let conv1 = conv(cfg.in_channels, 64, 7, 2, 3, vb.pp("conv1"))?;
        let bn1 = layers::batch_norm(64, BN_EPS, vb.pp("bn1"))?;
        let mut stages = Vec::with_capacity(4);
        let mut in_c = 64;
        for (i, &out_c) in STAGE_CHANNELS.iter().enumerate() {
            let stage_vb = vb.pp(format!("layer{}", i + 1));
            let mut blocks = Vec::with_capacity(BLOCKS_PER_STAGE);
            for j in 0..BLOCKS_PER_STAGE {
                // layer1 keeps the resolution (the max pool already halved it).
                let stride = if i > 0 && j == 0 { 2 } else { 1 };
                blocks.push(BasicBlock::new(
                    in_c,
                    out_c,
                    stride,
                    stage_vb.pp(j.to_string()),
                )?);
                in_c = out_c;
            }
            stages.push(blocks);
        }
        let fc = layers::linear(STAGE_CHANNELS[3], cfg.num_classes, vb.pp("fc"))?;
        Ok(Self {
            conv1,
            bn1,
            stages,
            fc,
            in_channels: cfg.in_channels,
        })
    }

    /// Output channels of layer1..layer4: [64, 128, 256, 512].
    pub fn stage_channels() -> [usize; 4] {
        STAGE_CHANNELS
    }

    /// Spatial side of the output of layer1..layer4 for a square input of side `input_size`
    /// ([25, 13, 7, 4] at 100 px; the stem gives 50 then 25).
    pub fn stage_sizes(input_size: usize) -> [usize; 4] {
        let stem = out_side(out_side(input_size, 7, 2, 3), 3, 2, 1);
        let mut out = [stem; 4];
        for i in 1..4 {
            out[i] = out_side(out[i - 1], 3, 2, 1);
        }
        out
    }

    /// Width of the FER embedding (the pooled layer4 features).
    pub fn embedding_dim() -> usize {
        STAGE_CHANNELS[3]
    }

    /// conv1 -> bn1 -> ReLU -> max pool 3x3/2/1.
    ///
    /// # Shapes
    /// (B, C_in, S, S) -> (B, 64, s, s) with s = `stage_sizes(S)[0]`.
    pub fn stem_forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let (_, c, h, w) = x.dims4().map_err(|_| ModelError::Shape {
            what: "resnet18 input".into(),
            expected: format!("(B, {}, S, S)", self.in_channels),
            got: x.dims().to_vec(),
        })?;
        if c != self.in_channels || h < MIN_INPUT_SIZE || w < MIN_INPUT_SIZE {
            return Err(ModelError::Shape {
                what: "resnet18 input".into(),
                expected: format!("(B, {}, S, S) with S >= {MIN_INPUT_SIZE}", self.in_channels),
                got: x.dims().to_vec(),
            });
        }
        let y = self.bn1.forward_relu_t(&self.conv1.forward(x)?, train)?;
        Ok(max_pool2d_with(&y, 3, 2, 1)?)
    }

    /// Stage `i` (0..4 = layer1..layer4), for models that put units between stages.
    ///
    /// # Shapes
    /// (B, C_i, s, s) -> (B, `stage_channels()[i]`, s', s'), C_0 = 64, C_i = channels of stage
    /// i - 1; s' = s for layer1, ceil(s / 2) otherwise.
    pub fn stage_forward_t(&self, i: usize, x: &Tensor, train: bool) -> Result<Tensor> {
        let blocks = self.stages.get(i).ok_or_else(|| {
            ModelError::Config(format!("resnet18 has stages 0..4, stage {i} requested"))
        })?;
        let mut x = x.clone();
        for b in blocks {
            x = b.forward_t(&x, train)?;
        }
        Ok(x)
    }

    /// Adaptive average pooling to 1x1 and the classifier.
    ///
    /// # Shapes
    /// (B, 512, h, w) -> ((B, 512) embedding, (B, num_classes) logits)
    pub fn pool_and_classify(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let emb = x.mean((2, 3))?;
        let logits = self.fc.forward(&emb)?;
        Ok((emb, logits))
    }

    /// The layer4 feature map (B, 512, h, w), before pooling.
    pub fn features_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut x = self.stem_forward_t(x, train)?;
        for i in 0..self.stages.len() {
            x = self.stage_forward_t(i, &x, train)?;
        }
        Ok(x)
    }
}

impl MultiTaskModel for ResNet18 {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<TaskOutputs> {
        let f = self.features_t(x, train)?;
        // Channel mean of the last feature map, as for BaseDCNN's activation maps (Fig. 4).
        let att = f.mean(1)?;
        let (emb, logits) = self.pool_and_classify(&f)?;
        Ok(TaskOutputs {
            expression_logits: Some(logits),
            landmarks: None,
            fer_embedding: Some(emb),
            attention_maps: vec![att],
        })
    }

    fn tasks(&self) -> Tasks {
        Tasks::Fer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    fn config(in_channels: usize, input_size: usize) -> ModelConfig {
        let mut cfg = ModelConfig::paper();
        cfg.in_channels = in_channels;
        cfg.input_size = input_size;
        cfg
    }

    #[test]
    fn sizes_at_100_and_32_px() {
        assert_eq!(ResNet18::stage_sizes(100), [25, 13, 7, 4]);
        assert_eq!(ResNet18::stage_sizes(224), [56, 28, 14, 7]);
        assert_eq!(ResNet18::stage_sizes(64), [16, 8, 4, 2]);
        assert_eq!(ResNet18::stage_sizes(32), [8, 4, 2, 1]);
        assert_eq!(ResNet18::stage_channels(), [64, 128, 256, 512]);
    }

    #[test]
    fn parameters_have_torchvision_names_and_counts() {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let _m = ResNet18::new(&config(3, 100), vb).unwrap();
        let data = varmap.data().lock().unwrap();
        // torchvision's state_dict has 122 entries: 102 here plus 20 num_batches_tracked.
        assert_eq!(data.len(), 102);
        for (name, shape) in [
            ("conv1.weight", vec![64, 3, 7, 7]),
            ("bn1.running_var", vec![64]),
            ("layer1.1.conv2.weight", vec![64, 64, 3, 3]),
            ("layer2.0.downsample.0.weight", vec![128, 64, 1, 1]),
            ("layer2.0.downsample.1.running_mean", vec![128]),
            ("layer4.1.bn2.bias", vec![512]),
            ("fc.weight", vec![7, 512]),
            ("fc.bias", vec![7]),
        ] {
            assert_eq!(data[name].dims(), shape.as_slice(), "{name}");
        }
        assert!(!data.contains_key("layer1.0.downsample.0.weight"));
        // 11,180,103 trainable parameters for 7 classes (torchvision: 11,689,512 for 1000):
        let trainable: usize = data
            .iter()
            .filter(|(n, _)| !n.contains("running_"))
            .map(|(_, v)| v.elem_count())
            .sum();
        assert_eq!(trainable, 11_689_512 - 513 * 1000 + 513 * 7);
    }

    #[test]
    fn forward_shapes_and_stage_api() {
        let dev = Device::Cpu;
        let (_, vb) = crate::seeded_var_builder(3, DType::F32, &dev);
        let m = ResNet18::new(&config(1, 100), vb).unwrap();
        let x = Tensor::randn(0f32, 1.0, (2, 1, 100, 100), &dev).unwrap();
        let out = m.forward_t(&x, true).unwrap();
        assert_eq!(out.expression_logits.as_ref().unwrap().dims(), &[2, 7]);
        assert_eq!(out.fer_embedding.as_ref().unwrap().dims(), &[2, 512]);
        assert_eq!(out.attention_maps[0].dims(), &[2, 4, 4]);
        assert_eq!(m.tasks(), Tasks::Fer);
        // The stage API composes to the same forward pass (eval mode: deterministic).
        let mut f = m.stem_forward_t(&x, false).unwrap();
        assert_eq!(f.dims(), &[2, 64, 25, 25]);
        for i in 0..4 {
            f = m.stage_forward_t(i, &f, false).unwrap();
            let s = ResNet18::stage_sizes(100)[i];
            assert_eq!(f.dims(), &[2, ResNet18::stage_channels()[i], s, s]);
        }
        let (_, logits) = m.pool_and_classify(&f).unwrap();
        let whole = m.forward_t(&x, false).unwrap().expression_logits.unwrap();
        let d = (logits - whole)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(d, 0.0);
        assert!(m.stage_forward_t(4, &f, false).is_err());
        let wrong = Tensor::zeros((2, 3, 100, 100), DType::F32, &dev).unwrap();
        assert!(m.forward_t(&wrong, false).is_err());
    }

    #[test]
    fn initialisation_follows_torchvision() {
        let dev = Device::Cpu;
        let (varmap, vb) = crate::seeded_var_builder(7, DType::F32, &dev);
        let _m = ResNet18::new(&config(3, 64), vb).unwrap();
        let data = varmap.data().lock().unwrap();
        let std = |name: &str| {
            let v: Vec<f32> = data[name].flatten_all().unwrap().to_vec1().unwrap();
            let n = v.len() as f64;
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
            (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt()
        };
        // fan_out = 256 * 9 -> std 0.02946; 512 * 9 -> 0.02083.
        assert!((std("layer3.0.conv2.weight") / (2.0f64 / 2304.0).sqrt() - 1.0).abs() < 0.02);
        assert!((std("layer4.1.conv1.weight") / (2.0f64 / 4608.0).sqrt() - 1.0).abs() < 0.02);
        let ones: Vec<f32> = data["layer2.1.bn1.weight"].to_vec1().unwrap();
        assert!(ones.iter().all(|&v| v == 1.0));
        let zeros: Vec<f32> = data["layer2.0.downsample.1.bias"].to_vec1().unwrap();
        assert!(zeros.iter().all(|&v| v == 0.0));
        let fc: Vec<f32> = data["fc.weight"].flatten_all().unwrap().to_vec1().unwrap();
        let bound = 1.0 / 512f32.sqrt();
        assert!(fc.iter().all(|v| v.abs() <= bound));
    }

    #[test]
    fn rejects_small_inputs() {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        assert!(ResNet18::new(&config(1, 31), vb).is_err());
    }
}
