//! The served-model slot: the model a request is scored with, and its hot reload.
//!
//! A version is loaded beside the one being served, checked, and only then swapped in
//! with one atomic pointer store ([`arc_swap`]): requests in flight keep the `Arc` of the
//! model they started with, so a reload never fails or stalls a request. Checks before a
//! swap: the file's sha256 equals the manifest's, the manifest's feature contract
//! (version, hash, names) equals this build's, tract loads the ONNX file with the
//! project's tree-ensemble op and its input width equals the contract's, and every
//! canary row of the manifest scores its expected value through tract and through the
//! in-memory forest. Any failure keeps the old model, is logged, and is counted.

use arc_swap::ArcSwapOption;
use chrono::{DateTime, Utc};
use nba_model::{Scorer, onnx::OnnxModel};
use nba_registry::{Manifest, Registry};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::Mutex;

/// Tolerance for canary predictions (the trainer checks tract against memory to 1e-4).
const CANARY_TOLERANCE: f32 = 1e-3;

/// A model ready to serve.
#[derive(Debug)]
pub struct LoadedModel {
    pub version: String,
    pub manifest: Manifest,
    /// Scores every request (`Predict`, V2 `ModelInfer`, Flight): the ensemble of
    /// `model.onnx`, read from the same bytes tract loaded, compiled for scoring
    /// ([`Scorer`]), and checked against tract on the canaries. tract itself is only the
    /// reference of that check and is not kept.
    pub scorer: Scorer,
    pub loaded_at: DateTime<Utc>,
}

impl LoadedModel {
    /// Residual percentile `p` (1..=99) for the request whose feature vector is
    /// `features`: from the manifest's uncertainty table (the vector's prior-10-minutes
    /// bucket and game-day state), or the pooled `residual_quantiles` of a manifest
    /// without one; 0 when the manifest has neither. Every path that answers p10/p90
    /// (`Predict`, Flight, V2 through [`crate::predict`]) reads it here.
    pub fn residual_percentile(&self, features: &[f32], p: usize) -> f64 {
        self.manifest.percentile(features, p)
    }

    /// P(actual > line) for prediction `pred` of `features`, from the same percentiles
    /// (linear between percentiles, clamped to [0.01, 0.99]); None without percentiles.
    pub fn p_over(&self, features: &[f32], pred: f64, line: f64) -> Option<f64> {
        self.manifest.p_over(features, pred, line)
    }
}

/// Why a version was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("registry: {0}")]
    Registry(#[from] nba_registry::RegistryError),
    #[error("no model has been promoted in the registry yet")]
    NoCurrent,
    #[error("model.onnx sha256 {actual} differs from the manifest's {expected}")]
    Checksum { expected: String, actual: String },
    #[error("feature contract mismatch: model has version {model_version} hash {model_hash}, this server {server_version} hash {server_hash}")]
    Contract { model_version: u32, model_hash: String, server_version: u32, server_hash: String },
    #[error("model: {0}")]
    Model(#[from] nba_model::ModelError),
    #[error("canary {index} ({player} in {game}): expected {expected}, tract {tract}, forest {forest}")]
    Canary { index: usize, player: String, game: String, expected: f32, tract: f32, forest: f32 },
    #[error("the manifest has no canary rows to check the model with")]
    NoCanaries,
}

/// Loads and checks one registry version (blocking: file reads and tract optimisation).
pub fn load_version(registry: &Registry, version: &str) -> Result<LoadedModel, LoadError> {
    let manifest = registry.manifest(version)?;
    let bytes = registry.model_bytes(version)?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != manifest.model_sha256 {
        return Err(LoadError::Checksum { expected: manifest.model_sha256.clone(), actual });
    }
    if manifest.feature_version != nba_features::FEATURE_VERSION
        || manifest.contract_hash != nba_features::contract_hash()
        || manifest.feature_names != nba_features::feature_names()
    {
        return Err(LoadError::Contract {
            model_version: manifest.feature_version,
            model_hash: manifest.contract_hash.clone(),
            server_version: nba_features::FEATURE_VERSION,
            server_hash: nba_features::contract_hash(),
        });
    }
    let n = nba_features::N_FEATURES;
    let onnx = OnnxModel::load(&bytes, n)?;
    let scorer = Scorer::new(nba_model::onnx::forest_from_bytes(&bytes, n)?)?;
    if manifest.canaries.is_empty() {
        return Err(LoadError::NoCanaries);
    }
    let rows: Vec<f32> = manifest.canaries.iter().flat_map(|c| c.features.iter().map(|v| v.unwrap_or(f32::NAN))).collect();
    let tract = onnx.predict(&rows)?;
    for (i, c) in manifest.canaries.iter().enumerate() {
        let mem = scorer.predict_row(&rows[i * n..(i + 1) * n])?;
        let ok = (tract[i] - c.expected).abs() <= CANARY_TOLERANCE && (mem - tract[i]).abs() <= CANARY_TOLERANCE;
        if !ok {
            return Err(LoadError::Canary {
                index: i,
                player: c.player_id.clone(),
                game: c.game_id.clone(),
                expected: c.expected,
                tract: tract[i],
                forest: mem,
            });
        }
    }
    Ok(LoadedModel { version: version.to_string(), manifest, scorer, loaded_at: Utc::now() })
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The pointer names the version already served.
    Unchanged(String),
    /// Swapped from the first version (None: nothing was served) to the second.
    Swapped(Option<String>, String),
}

/// The model being served, swapped atomically.
pub struct ModelSlot {
    registry: Registry,
    current: ArcSwapOption<LoadedModel>,
    /// One reload at a time (poller and admin calls).
    reloading: Mutex<()>,
}

impl ModelSlot {
    pub fn new(registry: Registry) -> Self {
        ModelSlot { registry, current: ArcSwapOption::empty(), reloading: Mutex::new(()) }
    }

    /// The model to score with (cheap: one atomic load).
    pub fn get(&self) -> Option<Arc<LoadedModel>> {
        self.current.load_full()
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Loads the version the registry's pointer names, if it is not the one served.
    /// On any failure the served model stays, and the error is returned, logged and counted.
    pub async fn reload(&self, trigger: &'static str) -> Result<ReloadOutcome, LoadError> {
        let _one = self.reloading.lock().await;
        let result = self.reload_locked().await;
        match &result {
            Ok(ReloadOutcome::Swapped(from, to)) => {
                metrics::counter!("nba_model_reloads_total", "result" => "success", "trigger" => trigger).increment(1);
                tracing::info!(from = from.as_deref().unwrap_or("-"), to = %to, trigger, "model loaded");
            }
            Ok(ReloadOutcome::Unchanged(_)) => {}
            Err(e) => {
                metrics::counter!("nba_model_reloads_total", "result" => "failure", "trigger" => trigger).increment(1);
                let serving = self.get().map(|m| m.version.clone()).unwrap_or_else(|| "-".into());
                tracing::error!(error = %e, serving = %serving, trigger, "model reload refused; keeping the served model");
            }
        }
        result
    }

    async fn reload_locked(&self) -> Result<ReloadOutcome, LoadError> {
        let registry = self.registry.clone();
        let served = self.get();
        let current = tokio::task::spawn_blocking({
            let registry = registry.clone();
            move || registry.current()
        })
        .await
        .map_err(|e| LoadError::Model(nba_model::ModelError::Invalid(format!("reload task: {e}"))))??;
        let Some(current) = current else {
            return Err(LoadError::NoCurrent);
        };
        if let Some(m) = &served
            && m.version == current.version
        {
            return Ok(ReloadOutcome::Unchanged(m.version.clone()));
        }
        let version = current.version.clone();
        let loaded = tokio::task::spawn_blocking(move || load_version(&registry, &version))
            .await
            .map_err(|e| LoadError::Model(nba_model::ModelError::Invalid(format!("reload task: {e}"))))??;
        let to = loaded.version.clone();
        set_model_info(served.as_deref(), &loaded);
        self.current.store(Some(Arc::new(loaded)));
        Ok(ReloadOutcome::Swapped(served.map(|m| m.version.clone()), to))
    }
}

/// `nba_model_info{version=...} 1` for the served version (0 for the one replaced).
fn set_model_info(old: Option<&LoadedModel>, new: &LoadedModel) {
    if let Some(old) = old {
        metrics::gauge!("nba_model_info", "version" => old.version.clone()).set(0.0);
    }
    metrics::gauge!("nba_model_info", "version" => new.version.clone()).set(1.0);
    metrics::gauge!("nba_model_loaded_timestamp_seconds").set(new.loaded_at.timestamp() as f64);
}
