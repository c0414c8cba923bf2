//! The feature layer shared by `nba-ingest build` (which writes `player_features`), the
//! trainer (which reads it) and the server (which computes the same vector for a game
//! not played yet):
//!
//! - [`contract`]: every feature declared once (name, definition, group, timing, the code
//!   that computes it), in order, with the version and hash;
//! - [`summary`]: box-score arithmetic (possessions, pace, ratings, usage, shooting);
//! - [`history`]: earlier games indexed for point-in-time lookups;
//! - `inputs` and `stats`: what the declared features read, gathered once per vector,
//!   and the window arithmetic over earlier games;
//! - [`vector`]: one feature vector from history and the pre-game context.

pub mod contract;
pub mod history;
mod inputs;
mod stats;
pub mod summary;
pub mod vector;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod reference;

pub use contract::{FEATURE_VERSION, Feature, Given, Group, N_FEATURES, Timing, contract_hash, feature_names, features, indices_given, request_time_features};
pub use history::{GameLine, History, PlayerGame, TeamGame};
pub use vector::{GameContext, compute};
