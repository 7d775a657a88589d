//! SFEW 2.0 (paper 4.1): movie frames in `Train/<Class>/` and `Val/<Class>/`, class folders
//! named Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise (the manifest's `label_map`).
//! Test's labels are withheld by the challenge, so, as the paper, Train is the training part
//! and Val the test part; the validation part must be held out of Train, never taken from Val.
//! Each image is its own subject (named by its file stem) unless the manifest's
//! `subject_regex` reads more from the file name. The frames are raw: `cargo xtask prepare`
//! detects and aligns them (paper 4.3) before training, so `FaceDataset::load` refuses them.

use std::path::Path;

use crate::availability::missing;
use crate::error::Result;
use crate::formats::image_folder::{finish, import_class_folders, subject_regex};
use crate::manifest::Manifest;
use crate::record::{Record, SplitHint};

/// The two labelled parts: folder name and the split it plays in the paper's protocol.
pub const PARTS: [(&str, SplitHint); 2] = [("Train", SplitHint::Train), ("Val", SplitHint::Test)];

/// Imports `Train/<Class>/*` then `Val/<Class>/*`, each sorted; ids are paths relative to the
/// root (`Train/Angry/x.png`). A part without any image in its class folders is an error
/// naming that folder.
pub fn import(root: &Path, manifest: &Manifest) -> Result<Vec<Record>> {
    let subject_re = subject_regex(root, manifest)?;
    let mut records = Vec::new();
    for (part, split) in PARTS {
        let dir = root.join(part);
        if !dir.is_dir() {
            return Err(missing(
                manifest,
                root,
                format!("no folder {part} (the sfew2 layout)"),
            ));
        }
        let found = import_class_folders(
            &dir,
            &format!("{part}/"),
            Some(split),
            manifest,
            subject_re.as_ref(),
        )?;
        if found.is_empty() {
            return Err(missing(
                manifest,
                &dir,
                "no images in its class folders (expected <Class>/<image>, e.g. Angry/x.png)",
            ));
        }
        records.extend(found);
    }
    finish(root, manifest, records)
}
