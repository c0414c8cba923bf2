//! The model registry: where model versions live on disk, which one is current, and the
//! manifest that says what each version is and how good it was.
//!
//! The trainer writes versions and moves the `current` pointer; the server reads the
//! pointer, loads the version it names and checks the manifest's contract and canaries
//! before serving it. Both go through this crate, so they agree on the layout, and on
//! how a prediction's interval and P(over) are read from the manifest ([`uncertainty`]).

pub mod manifest;
pub mod registry;
pub mod uncertainty;

pub use manifest::{BaselineComparison, Canary, Evaluation, FeatureGain, HyperParams, Manifest, Metrics, PartInfo, SplitInfo, WalkForward, WalkForwardMonth};
pub use registry::{Current, MANIFEST_FILE, MODEL_FILE, Registry};
pub use uncertainty::{
    BucketCoverage, BucketQuantiles, Calibration, GameDayState, MethodCalibration, ReliabilityBin, StateCalibration, StateQuantiles, Uncertainty,
};

/// What can go wrong reading or writing the registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Json { path: String, source: serde_json::Error },
    #[error("invalid version name {0:?}")]
    InvalidVersion(String),
    #[error("version {0} already exists")]
    Exists(String),
    #[error("{0}")]
    Pointer(String),
}
