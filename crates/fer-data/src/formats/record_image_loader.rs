//! Decoding a record's image whatever its layout keeps it in: a file for most layouts, a row of
//! the one CSV for FER2013's canonical form. The prepare step (paper 4.3) reads images through
//! this, so it runs on every layout the importers know.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::error::{DataError, Result};
use crate::{DatasetFormat, Manifest, Record};

/// Decodes a record's image.
pub type RecordImageLoader = Box<dyn Fn(&Record) -> Result<image::DynamicImage> + Sync + Send>;

/// Decodes the image file of a record (every layout but the FER2013 CSV).
pub fn load_record_file(r: &Record) -> Result<image::DynamicImage> {
    let path = r
        .path
        .as_ref()
        .ok_or_else(|| DataError::Config(format!("record {} has no image file", r.id)))?;
    crate::image_file::read_image(path)
}

/// The loader for the records `import_records(manifest, root)` returns.
pub fn record_image_loader(manifest: &Manifest, root: Option<&Path>) -> Result<RecordImageLoader> {
    if manifest.format != DatasetFormat::Fer2013Csv {
        return Ok(Box::new(|r: &Record| {
            let path = r
                .path
                .as_ref()
                .ok_or_else(|| DataError::Config(format!("record {} has no image file", r.id)))?;
            crate::image_file::read_image(path)
        }));
    }
    // The CSV's pixels are decoded once; records are looked up by id.
    let root = manifest
        .check_available(root)?
        .ok_or_else(|| DataError::Config(format!("manifest '{}' has no root", manifest.name)))?;
    let csv = super::fer2013_csv::csv_path(&root);
    let rows: HashMap<String, image::GrayImage> = super::fer2013_csv::read_rows(&csv, manifest)?
        .into_iter()
        .map(|(r, img)| (r.id, img))
        .collect();
    let rows = Arc::new(rows);
    Ok(Box::new(move |r: &Record| {
        rows.get(&r.id)
            .map(|img| image::DynamicImage::ImageLuma8(img.clone()))
            .ok_or_else(|| {
                DataError::Config(format!("record {} is not a row of {}", r.id, csv.display()))
            })
    }))
}
