//! One module per `cargo xtask` command.

pub mod ablation;
pub mod annotate;
pub mod bench;
pub mod demo;
pub mod detect;
pub mod fetch_models;
pub mod fuzz;
pub mod import_reference;
pub mod models;
pub mod predict;
pub mod prepare;
pub mod records;
pub mod report;
pub mod reproduce;
pub mod run_planned;
pub mod score;
pub mod status;
pub mod synth;
pub mod train;
pub mod worker;
