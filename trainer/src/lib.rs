//! `nba-trainer`: trains the points model on `player_features`, evaluates it honestly
//! against baselines on identical rows, exports it to ONNX and manages the registry.
//!
//! - [`data`]: reading played rows and the time split;
//! - [`gbm`]: the project's histogram gradient boosting (absolute or squared error) and
//!   its conversion to a [`nba_model::Forest`];
//! - [`eval`]: metrics, scored rows, baselines, breakdowns;
//! - [`calibration`]: the uncertainty table (residual percentiles by role and game-day
//!   state, from validation) and its coverage and P(over) reliability on the test rows;
//! - [`game_day`]: the game-day states (lists and lineups known or not), the hiding of
//!   request-time features on a share of training rows, and the states' test rows;
//! - [`manifest`], [`registry`]: what is written and where; [`training_report`]:
//!   `report.md` and its SVG plots beside the model; [`registry_table`]: registry events
//!   into ClickHouse;
//! - [`run`]: the commands, used by the thin `main.rs`.

pub mod calibration;
pub mod cli;
pub mod data;
pub mod eval;
pub mod game_day;
pub mod gbm;
pub mod registry_table;
pub mod train;
pub mod training_report;

pub use cli::{Cli, Command, TrainArgs};
/// The registry and manifest live in `nba-registry` (the server reads them too).
pub use nba_registry::{manifest, registry};
pub use train::{Outcome, run, train};

/// Exit code: trained (and promoted when asked), or a registry command succeeded.
pub const EXIT_OK: i32 = 0;
/// Exit code: an error (nothing promoted; a registry change only if complete).
pub const EXIT_ERROR: i32 = 2;
/// Exit code: trained and saved, but the promotion gate refused it.
pub const EXIT_GATE_REFUSED: i32 = 3;
/// Exit code: the registry on disk was changed as asked (trained/promoted/rolled back),
/// but mirroring the event into ClickHouse `model_registry` failed.
pub const EXIT_MIRROR_FAILED: i32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("data: {0}")]
    Data(String),
    #[error("training: {0}")]
    Training(String),
    #[error("registry: {0}")]
    Registry(#[from] nba_registry::RegistryError),
    #[error("model: {0}")]
    Model(#[from] nba_model::ModelError),
    #[error("store: {0}")]
    Store(String),
}
