//! Command line: every flag has an environment variable.

use crate::data::Period;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "nba-trainer", version, about = "Trains, evaluates, exports and promotes the points model")]
pub struct Cli {
    /// Registry root (holds models/<version>/ and the current pointer).
    #[arg(long, env = "NBA_REGISTRY", default_value = "registry", global = true)]
    pub registry: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train on player_features, evaluate, export to ONNX and save a version.
    Train(Box<TrainArgs>),
    /// List versions (the current one marked with *).
    List,
    /// Print a version's manifest.
    Show { version: String },
    /// Make a version current.
    Promote { version: String },
    /// Make the previously current version current again.
    Rollback,
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    #[arg(long, env = "CLICKHOUSE_URL", default_value = "http://127.0.0.1:8123")]
    pub clickhouse_url: String,
    #[arg(long, env = "NBA_DATABASE", default_value = "nba")]
    pub database: String,
    /// Attempts for each ClickHouse operation.
    #[arg(long, env = "NBA_CLICKHOUSE_ATTEMPTS", default_value_t = 3)]
    pub clickhouse_attempts: u32,
    /// Training period: seasons (2018-2022, 2024) or dates (2023-10-01..2024-01-31).
    #[arg(long = "train", env = "NBA_TRAIN_PERIOD", default_value = "2018-2022")]
    pub train_period: Period,
    /// Validation period (early stopping).
    #[arg(long = "valid", env = "NBA_VALID_PERIOD", default_value = "2023")]
    pub valid_period: Period,
    /// Test period (all reported metrics).
    #[arg(long = "test", env = "NBA_TEST_PERIOD", default_value = "2024")]
    pub test_period: Period,
    /// Fewest played rows accepted in each part.
    #[arg(long, env = "NBA_MIN_ROWS", default_value_t = 100)]
    pub min_rows: usize,
    #[arg(long, env = "NBA_ITERATIONS", default_value_t = 2000)]
    pub iterations: usize,
    #[arg(long, env = "NBA_LEARNING_RATE", default_value_t = 0.03)]
    pub learning_rate: f32,
    #[arg(long, env = "NBA_MAX_DEPTH", default_value_t = 6)]
    pub max_depth: usize,
    #[arg(long, env = "NBA_MAX_LEAVES", default_value_t = 63)]
    pub max_leaves: usize,
    #[arg(long, env = "NBA_L1", default_value_t = 0.0)]
    pub l1: f32,
    #[arg(long, env = "NBA_L2", default_value_t = 10.0)]
    pub l2: f32,
    #[arg(long, env = "NBA_GAMMA", default_value_t = 0.0)]
    pub gamma: f32,
    #[arg(long, env = "NBA_MIN_LEAF_WEIGHT", default_value_t = 50.0)]
    pub min_leaf_weight: f32,
    #[arg(long, env = "NBA_NBINS", default_value_t = 256)]
    pub nbins: u16,
    #[arg(long, env = "NBA_SUBSAMPLE", default_value_t = 0.8)]
    pub subsample: f32,
    #[arg(long, env = "NBA_COLSAMPLE", default_value_t = 0.8)]
    pub colsample_bytree: f64,
    #[arg(long, env = "NBA_EARLY_STOPPING", default_value_t = 100)]
    pub early_stopping_rounds: usize,
    #[arg(long, env = "NBA_SEED", default_value_t = 0)]
    pub seed: u64,
    /// Training threads (0: all cores).
    #[arg(long, env = "NBA_THREADS", default_value_t = 0)]
    pub threads: usize,
    /// Promote when the gate passes (exit 3 when it refuses).
    #[arg(long, env = "NBA_PROMOTE", default_value_t = false)]
    pub promote: bool,
    /// Gate: required relative MAE gain over the best baseline on the scored rows.
    #[arg(long, env = "NBA_GATE_MIN_GAIN", default_value_t = 0.02)]
    pub gate_min_gain: f64,
    /// Gate: largest relative MAE loss accepted against the current model (same rows).
    #[arg(long, env = "NBA_GATE_MAX_LOSS", default_value_t = 0.005)]
    pub gate_max_loss: f64,
    /// Show a spinner while training (when stderr is a terminal).
    #[arg(long, env = "NBA_PROGRESS", default_value = "auto")]
    pub progress: String,
}
