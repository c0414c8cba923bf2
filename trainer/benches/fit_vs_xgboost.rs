//! nba-trainer's boosting beside XGBoost `hist`, on equal terms (`scripts/bench_train_xgboost.sh`).
//!
//! Both fit the same exported rows (`nba-trainer export-rows`: the split's training part
//! as raw float32, NaN = missing), with the same objective, trees, depth, learning rate,
//! minimum leaf weight, L2, row and column sampling, 255 bins and threads, one after the
//! other in this run; each time covers binning and fitting (XGBoost's `DMatrix` and
//! `train`, our `gbm::fit`), not reading the files. Then both predict the test part's
//! scored rows (the rows every manifest reports). XGBoost also evaluates the validation
//! part after each tree (its script's `evals`); ours grows all trees without validation.
//!
//! Environment: NBA_ROWS_DIR (required: the export-rows folder), NBA_XGB_PYTHON (default
//! python3: an interpreter with xgboost and numpy), NBA_BENCH_TREES (300),
//! NBA_BENCH_THREADS (2).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nba_trainer::gbm::{self, Objective, Params};
use std::path::Path;
use std::time::Instant;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// One exported part: row-major features, targets, scored-row mask.
struct Part {
    x: Vec<f32>,
    y: Vec<f64>,
    scored: Vec<bool>,
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path).unwrap().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn part(dir: &Path, name: &str) -> Part {
    Part {
        x: read_f32(&dir.join(format!("{name}_x.f32"))),
        y: read_f32(&dir.join(format!("{name}_y.f32"))).into_iter().map(f64::from).collect(),
        scored: std::fs::read(dir.join(format!("{name}_scored.u8"))).unwrap().into_iter().map(|b| b == 1).collect(),
    }
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::var("NBA_ROWS_DIR").expect("NBA_ROWS_DIR: the folder `nba-trainer export-rows --out` wrote"));
    let trees: usize = env_or("NBA_BENCH_TREES", "300").parse().unwrap();
    let threads: usize = env_or("NBA_BENCH_THREADS", "2").parse().unwrap();
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    let nf = meta["n_features"].as_u64().unwrap() as usize;
    let (train, test) = (part(&dir, "train"), part(&dir, "test"));
    let rows: Vec<&[f32]> = train.x.chunks_exact(nf).collect();
    let p = Params {
        objective: Objective::AbsoluteError,
        iterations: trees,
        learning_rate: 0.05,
        max_depth: 6,
        max_leaves: 64,
        l1: 0.0,
        l2: 1.0,
        gamma: 0.0,
        min_leaf_weight: 50.0,
        nbins: 255,
        subsample: 0.8,
        colsample_bytree: 0.8,
        early_stopping_rounds: trees + 1,
        seed: 0,
        threads,
    };
    let t = Instant::now();
    let booster = gbm::fit(&p, &rows, &train.y, None, nf, &mut |_| {}).unwrap();
    let ours = t.elapsed().as_secs_f64();
    let scored: Vec<usize> = (0..test.y.len()).filter(|&i| test.scored[i]).collect();
    let mae = scored.iter().map(|&i| (booster.predict_row(&test.x[i * nf..(i + 1) * nf]) - test.y[i]).abs()).sum::<f64>() / scored.len() as f64;
    println!(
        "nba-trainer gbm: {} trees of depth 6 on {} rows x {nf} features, {threads} threads: fit {ours:.2} s, test MAE {mae:.4} on {} scored rows",
        booster.trees.len(),
        rows.len(),
        scored.len()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/xgb_compare.py");
    let out = std::process::Command::new(env_or("NBA_XGB_PYTHON", "python3"))
        .arg(&script)
        .arg(&dir)
        .args(["--trees", &trees.to_string(), "--depth", "6", "--learning-rate", "0.05", "--min-child-weight", "50", "--l2", "1"])
        .args(["--subsample", "0.8", "--colsample", "0.8", "--threads", &threads.to_string()])
        .output()
        .unwrap();
    if out.status.code() == Some(77) {
        println!("XGBoost: skipped ({})", String::from_utf8_lossy(&out.stderr).trim());
        return;
    }
    assert!(out.status.success(), "xgb_compare.py: {}", String::from_utf8_lossy(&out.stderr));
    let x: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let theirs = x["fit_seconds"].as_f64().unwrap();
    println!(
        "XGBoost {} hist: {} trees, fit {theirs:.2} s, test MAE {:.4} on {} scored rows",
        x["xgboost"].as_str().unwrap_or("?"),
        x["trees"],
        x["test_scored_mae"].as_f64().unwrap(),
        x["test_scored_rows"]
    );
    println!("fit time nba-trainer / XGBoost: {:.2}x", ours / theirs);
}
