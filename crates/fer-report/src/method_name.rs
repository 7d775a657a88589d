//! `method_name`: the paper's display name for a model registry name (Tables 3/4 rows:
//! "BaseDCNN (FER)", "BaseDCNN (FLD)", "HPS", "CSN", "PS-MCNN", "CMCNN"; Tables 12/13: "SE-Net", "CBAM-C", "CMCNN-C", ...).
//!
//! Tables and chart legends print these so a reader can hold our table beside the paper's;
//! any other model (an add-on baseline) keeps its registry name.

/// Paper name of a model registry name, or the registry name itself when unknown.
pub fn method_name(model: &str) -> &str {
    match model {
        "base-dcnn-fer" => "BaseDCNN (FER)",
        "base-dcnn-fld" => "BaseDCNN (FLD)",
        "hps" => "HPS",
        "csn" => "CSN",
        "ps-mcnn" => "PS-MCNN",
        "cmcnn" => "CMCNN",
        "cmcnn-resnet18" => "CMCNN-ResNet18",
        "resnet18" => "ResNet18",
        "cmcnn-c" => "CMCNN-C",
        "cmcnn-s" => "CMCNN-S",
        "se-net" => "SE-Net",
        "cbam-c" => "CBAM-C",
        "cbam-s" => "CBAM-S",
        "dam-cnn" => "DAM-CNN",
        "mtan" => "MTAN",
        other => other,
    }
}
