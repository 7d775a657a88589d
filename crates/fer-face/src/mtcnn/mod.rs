//! MTCNN face detection (Zhang et al. 2016, "Joint face detection and alignment using
//! multitask cascaded convolutional networks"), a port of facenet-pytorch 2.6.0's
//! `MTCNN.detect` to candle that reads facenet-pytorch's `pnet.pt`, `rnet.pt` and `onet.pt`.
//!
//! [`Mtcnn`] is the pipeline; the other modules are its parts: the networks ([`PNet`],
//! [`RNet`], [`ONet`]) and their layers, the scale pyramid, area resizing, candidate-box
//! arithmetic, crop windows and non-maximum suppression.

pub mod area_resize;
pub mod candidate_box;
pub mod ceil_max_pool;
pub mod conv_layer;
pub mod crop_window;
pub mod dense_layer;
pub mod float_image;
pub mod im2col;
#[allow(clippy::module_inception)]
pub mod mtcnn;
pub mod mtcnn_config;
pub mod non_max_suppression;
pub mod o_net;
pub mod p_net;
pub mod p_relu;
pub mod r_net;
pub mod scale_pyramid;
pub mod torch_state_dict;

pub use mtcnn::Mtcnn;
pub use mtcnn_config::MtcnnConfig;
pub use o_net::ONet;
pub use p_net::PNet;
pub use r_net::RNet;
pub use torch_state_dict::TorchStateDict;
