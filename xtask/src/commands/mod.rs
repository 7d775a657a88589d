//! One module per `cargo xtask` command.

pub mod demo;
pub mod score;
pub mod synth;
pub mod train;
