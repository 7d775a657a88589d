//! The runner of the CMCNN research framework: `cargo xtask <command>`.
//!
//! One file per command under `commands/`; each command's doc comment is its help text.

mod code_version;
mod commands;
mod epoch_benchmark;
mod face_models;
mod face_tools;
mod fuzzing;
mod train_benchmark;
mod workspace;

use clap::{Parser, Subcommand};

/// The system allocator with a per-allocation limit that only `fuzz` sets.
#[global_allocator]
static ALLOCATOR: fuzzing::allocation_limit::LimitedAllocator =
    fuzzing::allocation_limit::LimitedAllocator;

/// Reproduce and extend "Co-attentive multi-task convolutional neural network for facial
/// expression recognition" (Yu & Xu, Pattern Recognition 2021) in Rust.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The largest tensor a run may allocate (e.g. 8GiB, 512MB; default 4GiB, or
    /// FER_MAX_TENSOR_MEMORY): a larger parameter or activation is refused by name before it
    /// is allocated. Workers and Slurm tasks inherit it.
    #[arg(long, global = true, value_parser = parse_tensor_memory)]
    max_tensor_memory: Option<u64>,
}

fn parse_tensor_memory(text: &str) -> Result<u64, String> {
    fer_models::memory_limit::parse_bytes(text)
}

#[derive(Subcommand)]
enum Command {
    Demo(commands::demo::DemoArgs),
    Reproduce(commands::reproduce::ReproduceArgs),
    Ablation(commands::ablation::AblationArgs),
    Report(commands::report::ReportArgs),
    Records(commands::records::RecordsArgs),
    Synth(commands::synth::SynthArgs),
    Score(commands::score::ScoreArgs),
    Predict(commands::predict::PredictArgs),
    Train(commands::train::TrainArgs),
    Models(commands::models::ModelsArgs),
    ImportReference(commands::import_reference::ImportReferenceArgs),
    FetchModels(commands::fetch_models::FetchModelsArgs),
    Prepare(commands::prepare::PrepareArgs),
    Annotate(commands::annotate::AnnotateArgs),
    Detect(commands::detect::DetectArgs),
    Bench(commands::bench::BenchArgs),
    Fuzz(commands::fuzz::FuzzArgs),
    Status(commands::status::StatusArgs),
    RunPlanned(commands::run_planned::RunPlannedArgs),
    /// A worker process of `reproduce --jobs N` (started by the runner).
    #[command(name = "worker", hide = true)]
    Worker(commands::worker::WorkerArgs),
}

fn main() {
    // Before any thread starts: keep freed memory in the process (see fer_train::allocator).
    fer_train::allocator::keep_freed_memory();
    // A closed pipe (`cargo xtask score ... | head`) ends the process quietly, as it does for
    // other command-line tools, instead of making println! panic. Rust ignores SIGPIPE by
    // default; restoring the default action is the documented way out.
    // SAFETY: called before any thread starts; SIG_DFL is a valid handler for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    use fer_models::memory_limit;
    match cli.max_tensor_memory {
        Some(bytes) => {
            memory_limit::set_max_tensor_bytes(bytes);
            // Through the environment to the workers, Slurm tasks and report jobs it starts.
            std::env::set_var(memory_limit::MAX_TENSOR_MEMORY_VAR, bytes.to_string());
        }
        None => match memory_limit::limit_from_env() {
            Ok(bytes) => memory_limit::set_max_tensor_bytes(bytes),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        },
    }
    let result = match cli.command {
        Command::Demo(a) => commands::demo::run(a),
        Command::Reproduce(a) => commands::reproduce::run(a),
        Command::Ablation(a) => commands::ablation::run(a),
        Command::Report(a) => commands::report::run(a),
        Command::Records(a) => commands::records::run(a),
        Command::Synth(a) => commands::synth::run(a),
        Command::Score(a) => commands::score::run(a),
        Command::Predict(a) => commands::predict::run(a),
        Command::Fuzz(a) => commands::fuzz::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::Models(a) => commands::models::run(a),
        Command::ImportReference(a) => commands::import_reference::run(a),
        Command::FetchModels(a) => commands::fetch_models::run(a),
        Command::Prepare(a) => commands::prepare::run(a),
        Command::Annotate(a) => commands::annotate::run(a),
        Command::Detect(a) => commands::detect::run(a),
        Command::Bench(a) => commands::bench::run(a),
        Command::Status(a) => commands::status::run(a),
        Command::RunPlanned(a) => commands::run_planned::run(a),
        Command::Worker(a) => commands::worker::run(a),
    };
    if let Err(e) = result {
        // One line: the error and its causes, joined.
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
