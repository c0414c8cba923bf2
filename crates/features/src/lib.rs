//! The feature layer shared by `nba-ingest build` (which writes `player_features`), the
//! trainer (which reads it) and the server (which computes the same vector for a game
//! not played yet):
//!
//! - [`contract`]: ordered names, definitions, version and hash;
//! - [`summary`]: box-score arithmetic (possessions, pace, ratings, usage, shooting);
//! - [`history`]: earlier games indexed for point-in-time lookups;
//! - [`vector`]: one feature vector from history and the pre-game context.

pub mod contract;
pub mod history;
pub mod summary;
pub mod vector;

pub use contract::{FEATURE_VERSION, N_FEATURES, contract_hash, feature_names, features};
pub use history::{GameLine, History, PlayerGame, TeamGame};
pub use vector::{GameContext, compute};
