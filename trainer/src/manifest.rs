//! `manifest.json`: everything needed to know what a model is and how good it was.

use crate::eval::Evaluation;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HyperParams {
    pub objective: String,
    pub iterations: usize,
    pub learning_rate: f32,
    pub max_depth: usize,
    pub max_leaves: usize,
    pub l1: f32,
    pub l2: f32,
    pub gamma: f32,
    pub min_leaf_weight: f32,
    pub nbins: u16,
    pub subsample: f32,
    pub colsample_bytree: f64,
    pub early_stopping_rounds: usize,
    pub early_stopping_metric: String,
    pub seed: u64,
    pub threads: usize,
    /// Trees kept (the best validation iteration).
    pub trees_used: usize,
    pub trees_grown: usize,
    pub base_score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartInfo {
    pub period: String,
    pub rows: usize,
    pub first_date: String,
    pub last_date: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitInfo {
    pub train: PartInfo,
    pub validation: PartInfo,
    pub test: PartInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Canary {
    pub game_id: String,
    pub player_id: String,
    /// Contract order; null is a missing value (NaN).
    pub features: Vec<Option<f32>>,
    pub expected: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: String,
    pub created_at: String,
    pub source_commit: Option<String>,
    pub database: String,
    /// The time split: train, validation (early stopping), test (metrics).
    pub split: SplitInfo,
    pub feature_names: Vec<String>,
    pub feature_version: u32,
    pub contract_hash: String,
    pub hyper_parameters: HyperParams,
    pub validation_mae: f64,
    /// Test-period metrics of the model and the baselines.
    pub metrics: Evaluation,
    pub training_seconds: f64,
    pub model_sha256: String,
    /// Max |tract - in-memory| over the scored test rows, checked before writing.
    pub onnx_max_abs_diff: f64,
    pub canaries: Vec<Canary>,
}
