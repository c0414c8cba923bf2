//! The `train` pipeline and the registry commands.
//!
//! train: read played rows → check the contract → split by time → fit (early stopping on
//! validation) → convert to a flat forest → export ONNX → score the test rows through
//! tract and require agreement with the in-memory forest (1e-4) → evaluate the model and
//! the baselines on identical rows → write the version atomically → gate → promote.

use crate::cli::{Command, TrainArgs};
use crate::data::{self, FeatureRow, Period};
use crate::eval::{self, Cols, Evaluation};
use crate::manifest::{Canary, HyperParams, Manifest, PartInfo, SplitInfo};
use crate::registry::Registry;
use crate::{EXIT_GATE_REFUSED, EXIT_OK, TrainError, boost};
use nba_model::onnx::{OnnxModel, to_onnx_bytes};
use nba_store::{Store, StoreConfig};
use sha2::{Digest, Sha256};
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

/// What `train` did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub manifest: Manifest,
    /// Whether the version was made current.
    pub promoted: bool,
    /// Why the gate refused (when `--promote` was asked and it refused).
    pub refused: Option<String>,
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        if self.refused.is_some() { EXIT_GATE_REFUSED } else { EXIT_OK }
    }
}

fn hyper_params(a: &TrainArgs) -> HyperParams {
    HyperParams {
        objective: "squared_error".into(),
        iterations: a.iterations,
        learning_rate: a.learning_rate,
        max_depth: a.max_depth,
        max_leaves: a.max_leaves,
        l1: a.l1,
        l2: a.l2,
        gamma: a.gamma,
        min_leaf_weight: a.min_leaf_weight,
        nbins: a.nbins,
        subsample: a.subsample,
        colsample_bytree: a.colsample_bytree,
        early_stopping_rounds: a.early_stopping_rounds,
        early_stopping_metric: "validation rmse".into(),
        seed: a.seed,
        threads: a.threads,
        trees_used: 0,
        trees_grown: 0,
        base_score: 0.0,
    }
}

fn part_info(rows: &[FeatureRow], ix: &[usize], p: Period) -> PartInfo {
    let dates = ix.iter().map(|&i| rows[i].game_date);
    PartInfo {
        period: p.to_string(),
        rows: ix.len(),
        first_date: dates.clone().min().map(|d| d.to_string()).unwrap_or_default(),
        last_date: dates.max().map(|d| d.to_string()).unwrap_or_default(),
    }
}

fn source_commit() -> Option<String> {
    let out = std::process::Command::new("git").args(["rev-parse", "HEAD"]).output().ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

/// Trains, evaluates and saves a version; promotes it when asked and the gate passes.
pub async fn train(args: &TrainArgs, registry_root: &Path) -> Result<Outcome, TrainError> {
    let registry = Registry::new(registry_root);
    let mut config = StoreConfig::new(&args.clickhouse_url, &args.database);
    config.attempts = args.clickhouse_attempts.max(1);
    let store = Store::new(config).map_err(|e| TrainError::Store(e.to_string()))?;
    let rows = data::read_played(&store).await?;
    if rows.is_empty() {
        return Err(TrainError::Data(format!("no played rows in {}.player_features", args.database)));
    }
    let split = data::split(&rows, args.train_period, args.valid_period, args.test_period, args.min_rows.max(1))?;
    let n = nba_features::N_FEATURES;
    let feats = |ix: &[usize]| ix.iter().map(|&i| &rows[i].features[..]).collect::<Vec<&[f32]>>();
    let target = |ix: &[usize]| ix.iter().map(|&i| rows[i].target_pts as f64).collect::<Vec<f64>>();

    let mut hp = hyper_params(args);
    let spinner = (args.progress == "always" || (args.progress == "auto" && std::io::stderr().is_terminal())).then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_message(format!("training on {} rows (validation {}, up to {} trees)", split.train.len(), split.valid.len(), hp.iterations));
        pb.enable_steady_tick(std::time::Duration::from_millis(200));
        pb
    });
    let started = Instant::now();
    let gb = boost::fit(&hp, &feats(&split.train), &target(&split.train), &feats(&split.valid), &target(&split.valid), n)?;
    let training_seconds = started.elapsed().as_secs_f64();
    if let Some(pb) = spinner {
        pb.finish_and_clear();
    }
    let forest = boost::to_forest(&gb, n)?;
    hp.trees_grown = gb.trees.len();
    hp.trees_used = forest.n_trees();
    hp.base_score = gb.base_score;
    tracing::info!(trees = forest.n_trees(), seconds = training_seconds, "trained");

    // Validation MAE and test predictions come from the forest that is shipped.
    let vpred: Vec<f64> = feats(&split.valid).iter().map(|r| forest.predict_row(r).map(f64::from)).collect::<Result<_, _>>()?;
    let validation_mae = eval::Metrics::of(&vpred, &target(&split.valid)).mae;
    let test_rows: Vec<&FeatureRow> = split.test.iter().map(|&i| &rows[i]).collect();
    let test_x: Vec<f32> = test_rows.iter().flat_map(|r| r.features.iter().copied()).collect();
    let pred32 = forest.predict_batch(&test_x)?;
    let pred: Vec<f64> = pred32.iter().map(|&p| p as f64).collect();

    // The exported file must score like the forest.
    let onnx = to_onnx_bytes(&forest, &format!("nba points model, contract {}", nba_features::contract_hash()))?;
    let tract = OnnxModel::load(&onnx, n)?;
    let tract_pred = tract.predict(&test_x)?;
    let max_diff = tract_pred.iter().zip(&pred32).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max);
    if max_diff.is_nan() || max_diff > 1e-4 {
        return Err(TrainError::Training(format!("ONNX (tract) and in-memory predictions differ by {max_diff}")));
    }

    let evaluation: Evaluation = eval::evaluate(&test_rows, &pred);
    let cols = Cols::from_contract();
    let scored = eval::scored_indices(&test_rows, cols);
    if scored.is_empty() {
        return Err(TrainError::Data("no scored test rows (min_avg_10 >= 15 with all baselines defined)".into()));
    }
    let canaries: Vec<Canary> = (0..8)
        .map(|k| scored[k * (scored.len() - 1) / 7])
        .map(|i| Canary {
            game_id: test_rows[i].game_id.clone(),
            player_id: test_rows[i].player_id.clone(),
            features: test_rows[i].features.iter().map(|&x| (!x.is_nan()).then_some(x)).collect(),
            expected: pred32[i],
        })
        .collect();

    let now = chrono::Utc::now();
    let sha = hex::encode(Sha256::digest(&onnx));
    let manifest = Manifest {
        version: format!("{}-{}", now.format("%Y%m%dT%H%M%S%3fZ"), &sha[..8]),
        created_at: now.to_rfc3339(),
        source_commit: source_commit(),
        database: args.database.clone(),
        split: SplitInfo {
            train: part_info(&rows, &split.train, args.train_period),
            validation: part_info(&rows, &split.valid, args.valid_period),
            test: part_info(&rows, &split.test, args.test_period),
        },
        feature_names: nba_features::feature_names(),
        feature_version: nba_features::FEATURE_VERSION,
        contract_hash: nba_features::contract_hash(),
        hyper_parameters: hp,
        validation_mae,
        metrics: evaluation,
        training_seconds,
        model_sha256: sha,
        onnx_max_abs_diff: max_diff,
        canaries,
        residual_quantiles: nba_registry::manifest::percentiles(&scored.iter().map(|&i| test_rows[i].target_pts as f64 - pred[i]).collect::<Vec<_>>()),
    };

    // The gate is computed before anything is written: on the same scored rows.
    let refused = if args.promote { gate(args, &registry, &manifest, &test_rows, &scored)? } else { None };
    registry.write_version(&manifest, &onnx)?;
    let promoted = args.promote && refused.is_none();
    if promoted {
        registry.promote(&manifest.version)?;
    }
    Ok(Outcome { manifest, promoted, refused })
}

/// `Some(reason)` when the new model may not be promoted.
fn gate(args: &TrainArgs, registry: &Registry, m: &Manifest, test_rows: &[&FeatureRow], scored: &[usize]) -> Result<Option<String>, TrainError> {
    let model = m.metrics.scored.model.mae;
    let Some((name, best)) = m.metrics.scored.best_baseline() else { return Ok(Some("no baseline".into())) };
    let passes = model <= best.mae * (1.0 - args.gate_min_gain); // false for NaN
    if !passes {
        return Ok(Some(format!(
            "test MAE {model:.4} does not beat the best baseline ({name}, {:.4}) by {:.1}% on the same {} rows",
            best.mae,
            args.gate_min_gain * 100.0,
            best.rows
        )));
    }
    let Some(current) = registry.current()? else { return Ok(None) };
    let cur_manifest = registry.manifest(&current.version)?;
    if cur_manifest.contract_hash != m.contract_hash {
        // A model of another contract cannot be scored on these rows; the baseline
        // condition alone decides.
        return Ok(None);
    }
    let cur = OnnxModel::load(&registry.model_bytes(&current.version)?, nba_features::N_FEATURES)?;
    let x: Vec<f32> = scored.iter().flat_map(|&i| test_rows[i].features.iter().copied()).collect();
    let cur_pred: Vec<f64> = cur.predict(&x)?.into_iter().map(f64::from).collect();
    let actual: Vec<f64> = scored.iter().map(|&i| test_rows[i].target_pts as f64).collect();
    let cur_mae = eval::Metrics::of(&cur_pred, &actual).mae;
    if model > cur_mae * (1.0 + args.gate_max_loss) {
        return Ok(Some(format!(
            "test MAE {model:.4} is worse than the current model {} ({cur_mae:.4} on the same rows) by more than {:.1}%",
            current.version,
            args.gate_max_loss * 100.0
        )));
    }
    Ok(None)
}

fn summary(m: &Manifest) -> String {
    let s = &m.metrics.scored;
    let mut out = format!(
        "version {}\n  trees {} of {} grown, training {:.1}s, validation MAE {:.4}\n  scored test rows {} (of {} test rows)\n  {:<16} MAE {:.4}  RMSE {:.4}  bias {:+.4}  median AE {:.4}\n",
        m.version,
        m.hyper_parameters.trees_used,
        m.hyper_parameters.trees_grown,
        m.training_seconds,
        m.validation_mae,
        s.model.rows,
        m.split.test.rows,
        "model",
        s.model.mae,
        s.model.rmse,
        s.model.bias,
        s.model.median_ae
    );
    for (name, b) in &s.baselines {
        out += &format!("  {:<16} MAE {:.4}  RMSE {:.4}  bias {:+.4}  median AE {:.4}\n", name, b.mae, b.rmse, b.bias, b.median_ae);
    }
    out
}

/// Runs one command; returns the process exit code for a completed command.
pub async fn run(cli: crate::Cli) -> anyhow::Result<i32> {
    let registry = Registry::new(&cli.registry);
    match cli.command {
        Command::Train(args) => {
            let outcome = train(&args, &cli.registry).await?;
            print!("{}", summary(&outcome.manifest));
            match (&outcome.refused, outcome.promoted) {
                (Some(why), _) => println!("  not promoted: {why}"),
                (None, true) => println!("  promoted: current is {}", outcome.manifest.version),
                (None, false) => println!("  saved (not promoted; use --promote or `promote {}`)", outcome.manifest.version),
            }
            Ok(outcome.exit_code())
        }
        Command::List => {
            let current = registry.current()?.map(|c| c.version);
            for v in registry.list()? {
                let m = registry.manifest(&v)?;
                let mark = if current.as_deref() == Some(v.as_str()) { "*" } else { " " };
                println!("{mark} {v}  test MAE {:.4} on {} rows  created {}", m.metrics.scored.model.mae, m.metrics.scored.model.rows, m.created_at);
            }
            Ok(EXIT_OK)
        }
        Command::Show { version } => {
            let m = registry.manifest(&version)?;
            println!("{}", serde_json::to_string_pretty(&m)?);
            Ok(EXIT_OK)
        }
        Command::Promote { version } => {
            let c = registry.promote(&version)?;
            println!("current: {}", c.version);
            Ok(EXIT_OK)
        }
        Command::Rollback => {
            let c = registry.rollback()?;
            println!("current: {}", c.version);
            Ok(EXIT_OK)
        }
    }
}
