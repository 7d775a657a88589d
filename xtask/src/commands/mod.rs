//! One module per `cargo xtask` command.

pub mod demo;
pub mod import_reference;
pub mod models;
pub mod score;
pub mod synth;
pub mod train;
