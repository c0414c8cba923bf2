//! The command line of `nba-trainer`: every flag has an environment variable; the
//! ClickHouse connection and logging flags are the ones all three binaries share.

use crate::TrainError;
use crate::data::{Period, Periods, Rolling};
use crate::game_day::HideSharesArg;
use crate::gbm::Objective;
use chrono::NaiveDate;
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
    #[arg(long = "train", env = "NBA_TRAIN_PERIOD", default_value = "2018-2022", conflicts_with = "as_of")]
    pub train_period: Period,
    /// Validation period (early stopping).
    #[arg(long = "valid", env = "NBA_VALID_PERIOD", default_value = "2023", conflicts_with = "as_of")]
    pub valid_period: Period,
    /// Test period (all reported metrics).
    #[arg(long = "test", env = "NBA_TEST_PERIOD", default_value = "2024", conflicts_with = "as_of")]
    pub test_period: Period,
    /// Rolling periods instead of --train/--valid/--test, relative to this date D
    /// (YYYY-MM-DD or `yesterday`, UTC): no row after D is read; test is the last
    /// --test-days days up to D, validation the --valid-days days before it, training
    /// the --train-seasons last seasons before that. The windows end at the last played
    /// game on or before D (in the off-season: the season that ended).
    #[arg(long, env = "NBA_AS_OF")]
    pub as_of: Option<AsOf>,
    /// Rolling: training starts with the season this many seasons back (1: D's own).
    #[arg(long, env = "NBA_TRAIN_SEASONS", default_value_t = 5, requires = "as_of", value_parser = clap::value_parser!(u16).range(1..=100))]
    pub train_seasons: u16,
    /// Rolling: days of the validation window (early stopping), just before the test window.
    #[arg(long, env = "NBA_VALID_DAYS", default_value_t = 60, requires = "as_of", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub valid_days: u32,
    /// Rolling: days of the test window ending at D; 0 = no test window (the metrics and
    /// the gate are then on the validation window, which early stopping has seen).
    #[arg(long, env = "NBA_TEST_DAYS", default_value_t = 0, requires = "as_of", value_parser = clap::value_parser!(u32).range(0..=3650))]
    pub test_days: u32,
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

/// The as-of date of rolling periods: a date, or `yesterday` (resolved when the run
/// starts, in UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    Date(NaiveDate),
    Yesterday,
}

impl AsOf {
    /// The date, with `today` as the clock (injected by tests).
    pub fn date(self, today: NaiveDate) -> NaiveDate {
        match self {
            AsOf::Date(d) => d,
            AsOf::Yesterday => today.pred_opt().unwrap_or(today),
        }
    }
}

impl std::str::FromStr for AsOf {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "yesterday" => Ok(AsOf::Yesterday),
            d => NaiveDate::parse_from_str(d, "%Y-%m-%d").map(AsOf::Date).map_err(|_| format!("{s:?}: expected a date like 2024-03-31 or `yesterday`")),
        }
    }
}

impl TrainArgs {
    /// The periods asked for, checked before anything is read: rolling (`--as-of`) or
    /// fixed. `today` is the clock `yesterday` is resolved with.
    pub fn periods(&self, today: NaiveDate) -> Result<Periods, TrainError> {
        let Some(as_of) = self.as_of else {
            return Ok(Periods::Fixed { train: self.train_period, valid: self.valid_period, test: self.test_period });
        };
        if self.refit && self.test_days == 0 {
            return Err(TrainError::Data(
                "--refit with --test-days 0: the metrics and the gate would be on the validation window the refit trains on; give a test window or drop --refit"
                    .into(),
            ));
        }
        Ok(Periods::Rolling(Rolling { as_of: as_of.date(today), train_seasons: self.train_seasons, valid_days: self.valid_days, test_days: self.test_days }))
    }
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

    fn train_args(argv: &[&str]) -> Result<TrainArgs, String> {
        let argv = ["nba-trainer", "train"].iter().chain(argv).copied();
        match Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(Command::Train(a)) => Ok(*a),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn rolling_periods_resolve_against_the_clock() {
        let today = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        let a = train_args(&["--as-of", "yesterday", "--train-seasons", "2", "--valid-days", "30", "--test-days", "7"]).unwrap();
        let want = Rolling { as_of: NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(), train_seasons: 2, valid_days: 30, test_days: 7 };
        assert_eq!(a.periods(today).unwrap(), Periods::Rolling(want));
        // Defaults: five seasons, 60 validation days, no test window; a fixed date.
        let a = train_args(&["--as-of", "2024-03-31"]).unwrap();
        let want = Rolling { as_of: NaiveDate::from_ymd_opt(2024, 3, 31).unwrap(), train_seasons: 5, valid_days: 60, test_days: 0 };
        assert_eq!(a.periods(today).unwrap(), Periods::Rolling(want));
        // Without --as-of: the fixed periods, as before.
        let a = train_args(&[]).unwrap();
        let fixed = Periods::Fixed { train: "2018-2022".parse().unwrap(), valid: "2023".parse().unwrap(), test: "2024".parse().unwrap() };
        assert_eq!(a.periods(today).unwrap(), fixed);
    }

    #[test]
    fn rolling_and_fixed_periods_exclude_each_other() {
        for (argv, want) in [
            (&["--as-of", "yesterday", "--train", "2018-2022"][..], "cannot be used with"),
            (&["--as-of", "2024-03-31", "--test", "2024"][..], "cannot be used with"),
            (&["--valid-days", "30"][..], "--as-of"),
            (&["--as-of", "last week"][..], "expected a date like 2024-03-31 or `yesterday`"),
            (&["--as-of", "2024-02-30"][..], "expected a date"),
            (&["--as-of", "yesterday", "--train-seasons", "0"][..], "--train-seasons"),
            (&["--as-of", "yesterday", "--valid-days", "0"][..], "--valid-days"),
        ] {
            let e = train_args(argv).unwrap_err();
            assert!(e.contains(want), "{argv:?}: {e}");
        }
        // A refit without a test window would be scored on its own training rows.
        let today = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        let e = train_args(&["--as-of", "yesterday", "--refit"]).unwrap().periods(today).unwrap_err().to_string();
        assert!(e.contains("--refit with --test-days 0"), "{e}");
        assert!(train_args(&["--as-of", "yesterday", "--refit", "--test-days", "14"]).unwrap().periods(today).is_ok());
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
