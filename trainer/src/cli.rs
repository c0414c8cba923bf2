//! The command line of `nba-trainer`: every flag has an environment variable; the
//! ClickHouse connection and logging flags are the ones all three binaries share.

use crate::data::Period;
use crate::game_day::HideSharesArg;
use crate::gbm::Objective;
use clap::{Args, Parser, Subcommand};
use nba_logging::LogArgs;
use nba_store::ClickHouseArgs;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "nba-trainer", version, about = "Trains, evaluates, exports and promotes the points model")]
pub struct Cli {
    /// Registry root (holds models/<version>/ and the current pointer).
    #[arg(long, env = "NBA_REGISTRY", default_value = "registry", global = true)]
    pub registry: PathBuf,
    #[command(flatten)]
    pub log: LogArgs,
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
    Promote {
        version: String,
        #[command(flatten)]
        clickhouse: ClickHouseTarget,
    },
    /// Make the previously current version current again.
    Rollback {
        #[command(flatten)]
        clickhouse: ClickHouseTarget,
    },
    /// Write the split's rows (features, targets, scored-row mask) as raw little-endian
    /// arrays for outside tools (scripts/xgb_compare.py).
    ExportRows {
        /// Output folder (created).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        args: Box<TrainArgs>,
    },
}

/// The ClickHouse the rows are read from, and whether registry events are also written
/// to its `model_registry` table.
#[derive(Debug, Clone, Args)]
pub struct ClickHouseTarget {
    #[command(flatten)]
    pub connection: ClickHouseArgs,
    /// Do not mirror registry events into the `model_registry` table.
    #[arg(long, env = "NBA_NO_MIRROR", default_value_t = false)]
    pub no_mirror: bool,
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub clickhouse: ClickHouseTarget,
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
    /// Loss: absolute_error (L1, median leaves) or squared_error (L2).
    #[arg(long, env = "NBA_OBJECTIVE", default_value = "absolute_error")]
    pub objective: Objective,
    /// Most trees (early stopping on the validation period usually stops sooner).
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
    /// Value bins per feature (2..=255; missing values have a bin of their own).
    #[arg(long, env = "NBA_NBINS", default_value_t = 255)]
    pub nbins: u16,
    #[arg(long, env = "NBA_SUBSAMPLE", default_value_t = 0.8)]
    pub subsample: f32,
    #[arg(long, env = "NBA_COLSAMPLE", default_value_t = 0.8)]
    pub colsample_bytree: f64,
    #[arg(long, env = "NBA_EARLY_STOPPING", default_value_t = 150)]
    pub early_stopping_rounds: usize,
    #[arg(long, env = "NBA_SEED", default_value_t = 0)]
    pub seed: u64,
    /// Seed bagging: train this many boosters (seeds seed, seed+1, ...; each with its
    /// own early stopping) and ship their average as one tree ensemble (1 = no bagging).
    #[arg(long, env = "NBA_BAG", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub bag: u16,
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
    /// After early stopping has chosen the number of trees on the validation period,
    /// refit with that many trees on the training and validation periods together (the
    /// test period stays unseen).
    #[arg(long, env = "NBA_REFIT", default_value_t = false)]
    pub refit: bool,
    /// Also retrain month by month through the test period (train on everything before
    /// each month, the trees of the main model) and report that table too.
    #[arg(long, env = "NBA_WALK_FORWARD", default_value_t = false)]
    pub walk_forward: bool,
    /// Every training row is trained as built (state A: lists and lineups known); these
    /// shares of the rows are also trained as copies with the lineups hidden (state B) and
    /// with lists and lineups hidden (state C), as `B,C` (for example 0.5,0.5; each in
    /// [0, 1]); `auto` tries a small grid and keeps the shares with the lowest mean
    /// validation MAE over the three game-day states.
    #[arg(long, env = "NBA_HIDE_SHARES", default_value = "auto")]
    pub hide_shares: HideSharesArg,
    /// Show a progress bar while training (when stderr is a terminal).
    #[arg(long, env = "NBA_PROGRESS", default_value = "auto")]
    pub progress: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_subcommand_is_a_valid_clap_command() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_trainer_takes_the_shared_clickhouse_login() {
        let cli = Cli::try_parse_from(["nba-trainer", "rollback", "--clickhouse-user", "nba", "--clickhouse-password-file", "/run/pw", "--no-mirror"]).unwrap();
        let Command::Rollback { clickhouse } = cli.command else { panic!("not rollback") };
        assert_eq!(clickhouse.connection.user.as_deref(), Some("nba"));
        assert_eq!(clickhouse.connection.password_file.as_deref(), Some(std::path::Path::new("/run/pw")));
        assert!(clickhouse.no_mirror);
    }

    #[test]
    fn hide_shares_default_to_the_validation_grid() {
        let train = |extra: &[&str]| {
            let mut argv = vec!["nba-trainer", "train"];
            argv.extend_from_slice(extra);
            match Cli::try_parse_from(argv).map(|c| c.command) {
                Ok(Command::Train(a)) => Ok(a.hide_shares),
                Ok(other) => panic!("{other:?}"),
                Err(e) => Err(e.to_string()),
            }
        };
        assert_eq!(train(&[]).unwrap(), HideSharesArg::Auto);
        let fixed = train(&["--hide-shares", "0.2,0.1"]).unwrap();
        assert_eq!(fixed, HideSharesArg::Fixed(crate::game_day::HideShares { lineups_hidden: 0.2, both_hidden: 0.1 }));
        // Copies: both shares may be 1 (every row copied into both states), not more.
        assert!(train(&["--hide-shares", "1,1"]).is_ok());
        assert!(train(&["--hide-shares", "0.8,1.2"]).unwrap_err().contains("in [0, 1]"));
    }
}
