//! The `train` pipeline and the registry commands.
//!
//! train: read played rows and the history → check the contract → split by time → fit
//! (request-time features hidden on a share of the training rows, the shares chosen on
//! validation; early stopping on validation in the three game-day states) and the
//! reference model without request-time features → convert to a flat forest → export
//! ONNX → score the test rows through tract and require agreement with the in-memory
//! forest (1e-4) → evaluate the model and the baselines on identical rows, in every
//! game-day state → measure the intervals and P(over) of the validation uncertainty
//! table on the test rows → write the version atomically → gate → promote → mirror the events
//! into ClickHouse. [`train`] reads as those steps, one function each.

use crate::cli::{Command, TrainArgs};
use crate::data::{self, FeatureRow};
use crate::eval::{self, EvaluationColumns};
use crate::game_day::{self, Hiding, MaskedRows, RequestTimeColumns, State};
use crate::manifest::{
    Canary, FeatureGain, GameDayEvaluation, HideSharesCandidate, HyperParams, Manifest, PartInfo, SplitInfo, StateMaes, WalkForward, WalkForwardMonth,
};
use crate::registry::Registry;
use crate::{EXIT_GATE_REFUSED, EXIT_MIRROR_FAILED, EXIT_OK, TrainError, calibration, gbm, registry_table, training_report};
use chrono::Datelike;
use nba_features::History;
use nba_model::Forest;
use nba_model::onnx::{OnnxModel, to_onnx_bytes};
use nba_registry::{Calibration, Uncertainty};
use nba_store::Store;
use nba_store::rows::ModelRegistryRow;
use sha2::{Digest, Sha256};
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

/// Largest difference accepted between tract's and the in-memory forest's prediction of
/// a test row: the exported file must score like the model it was made from.
const ONNX_MAX_ABS_DIFF: f64 = 1e-4;

/// Canary rows written into the manifest, spread evenly over the scored test rows.
const CANARIES: usize = 8;

/// What `train` did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub manifest: Manifest,
    /// Whether the version was made current.
    pub promoted: bool,
    /// Why the gate refused (when `--promote` was asked and it refused).
    pub refused: Option<String>,
    /// Why mirroring the events into `model_registry` failed (the version is saved).
    pub mirror_error: Option<String>,
}

impl Outcome {
    /// 3 when the gate refused, else 4 when the mirror failed, else 0.
    pub fn exit_code(&self) -> i32 {
        match (&self.refused, &self.mirror_error) {
            (Some(_), _) => EXIT_GATE_REFUSED,
            (None, Some(_)) => EXIT_MIRROR_FAILED,
            (None, None) => EXIT_OK,
        }
    }
}

/// The GBM parameters of the arguments.
pub fn params(a: &TrainArgs) -> gbm::Params {
    gbm::Params {
        objective: a.objective,
        iterations: a.iterations,
        learning_rate: a.learning_rate as f64,
        max_depth: a.max_depth,
        max_leaves: a.max_leaves,
        l1: a.l1 as f64,
        l2: a.l2 as f64,
        gamma: a.gamma as f64,
        min_leaf_weight: a.min_leaf_weight as f64,
        nbins: a.nbins as usize,
        subsample: a.subsample as f64,
        colsample_bytree: a.colsample_bytree,
        early_stopping_rounds: a.early_stopping_rounds,
        seed: a.seed,
        threads: a.threads,
    }
}

fn hyper_params(a: &TrainArgs, b: &gbm::Booster, bag_trees: Vec<usize>) -> HyperParams {
    HyperParams {
        objective: a.objective.to_string(),
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
        early_stopping_metric: format!("validation {}", a.objective.metric_name()),
        seed: a.seed,
        threads: a.threads,
        trees_used: b.trees.len(),
        trees_grown: b.trees_grown,
        base_score: b.base as f64,
        refit_on_validation: a.refit,
        bag: bag_trees.len(),
        bag_trees,
    }
}

fn part_info(rows: &[FeatureRow], ix: &[usize], period: String) -> PartInfo {
    let dates = ix.iter().map(|&i| rows[i].game_date);
    PartInfo {
        period,
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

/// Played rows and their split, checked.
pub async fn load(args: &TrainArgs) -> Result<(Vec<FeatureRow>, data::Split), TrainError> {
    let periods = args.periods(chrono::Utc::now().date_naive())?;
    load_from(&connect(args).await?, args, periods).await
}

/// The store of the arguments, after a ping: a server that refuses the login says why
/// here, before any reading.
async fn connect(args: &TrainArgs) -> Result<Store, TrainError> {
    let store = args.clickhouse.connection.connect().map_err(|e| TrainError::Store(e.to_string()))?;
    store.ping().await.map_err(|e| TrainError::Store(e.with_causes()))?;
    Ok(store)
}

/// What training reads: the played rows, their split, and the history the builder and
/// the server compute features from (state D of the game-day evaluation recomputes
/// features from it).
async fn load_for_training(args: &TrainArgs) -> Result<(Vec<FeatureRow>, data::Split, History), TrainError> {
    let periods = args.periods(chrono::Utc::now().date_naive())?;
    let store = connect(args).await?;
    let (rows, split) = load_from(&store, args, periods).await?;
    let history = store.history().await.map_err(|e| TrainError::Store(format!("reading the history (player_game_summary, team_game_summary): {e}")))?;
    Ok((rows, split, history))
}

/// Reads the played rows the periods may use (rolling: none after D) and splits them.
async fn load_from(store: &Store, args: &TrainArgs, periods: data::Periods) -> Result<(Vec<FeatureRow>, data::Split), TrainError> {
    let rows = data::read_played_through(store, periods.last_date()).await?;
    if rows.is_empty() {
        return Err(TrainError::Data(format!("no played rows in {}.player_features", args.clickhouse.connection.database)));
    }
    let split = data::split_resolved(&rows, periods.resolve(&rows)?, args.min_rows.max(1))?;
    let p = &split.periods;
    tracing::info!(train = %p.train, valid = %p.valid, test = %p.test_label(), as_of = ?p.as_of, "periods");
    Ok((rows, split))
}

fn target(rows: &[FeatureRow], ix: &[usize]) -> Vec<f64> {
    ix.iter().map(|&i| rows[i].target_pts as f64).collect()
}

/// A progress bar (trees, validation loss) when stderr is a terminal or asked for.
fn progress_bar(args: &TrainArgs, what: String) -> Option<indicatif::ProgressBar> {
    let show = args.progress == "always" || (args.progress == "auto" && std::io::stderr().is_terminal());
    show.then(|| {
        let pb = indicatif::ProgressBar::new(args.iterations as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} trees {elapsed} {msg}") {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_prefix(what);
        pb
    })
}

/// Trains, evaluates and saves a version; promotes it when asked and the gate passes;
/// mirrors the events into ClickHouse.
pub async fn train(args: &TrainArgs, registry_root: &Path) -> Result<Outcome, TrainError> {
    let registry = Registry::new(registry_root);
    let (rows, split, history) = load_for_training(args).await?;
    // From here on ClickHouse is needed again only for the mirror (the fault test waits
    // for this line to kill the server mid-run).
    tracing::info!(rows = rows.len(), train = split.train.len(), valid = split.valid.len(), test = split.test.len(), "read player_features");
    let fitted = fit(args, &rows, &split)?;
    let forest = fitted.booster.to_forest()?;
    tracing::info!(trees = forest.n_trees(), grown = fitted.booster.trees_grown, seconds = fitted.training_seconds, "trained");
    let test = TestPredictions::of(&forest, &rows, &split)?;
    let exported = export_checked(&forest, &test)?;
    let game_day = game_day_evaluation(args, (&rows, &split), &fitted, &forest, &test, &history)?;
    log_game_day(&game_day);
    let scored_rows = calibration::TestRows::of(test.scored.iter().map(|&i| test.rows[i]).collect());
    let rows_label = calibration::rows_label(split.periods.test.is_some());
    let calibration = calibration::measure(&fitted.uncertainty, &fitted.pooled_quantiles, &forest, &scored_rows, rows_label)?;
    calibration::log(&calibration);
    let walk_forward = if args.walk_forward { Some(walk_forward(args, &rows, &split, &fitted)?) } else { None };
    let manifest = manifest(args, &rows, &split, &fitted, &test, &exported, MoreEvaluations { game_day, walk_forward, calibration });

    // The gate is computed before anything is written: on the same scored rows.
    let refused = if args.promote { gate(args, &registry, &manifest, &test.rows, &test.scored)? } else { None };
    let files = training_report::render(&manifest, &test.rows, &test.pred, &fitted.valid_history)?;
    registry.write_version_with(&manifest, &exported.onnx, &files)?;
    let promoted = args.promote && refused.is_none();
    if promoted {
        registry.promote(&manifest.version)?;
    }
    let events = train_events(&manifest, test.scored.len(), promoted, refused.as_deref());
    let mirror_error = registry_table::record(&args.clickhouse, &events).await.err();
    Ok(Outcome { manifest, promoted, refused, mirror_error })
}

/// The model as fitted, before it is converted and exported.
struct FittedModel {
    booster: gbm::Booster,
    /// Trees each bag member kept (early stopping on validation); the refit and the
    /// walk-forward reuse these counts.
    bag_trees: Vec<usize>,
    /// Validation MAE of the early-stopped model in state A, on every validation row
    /// (the refit has seen the validation rows).
    validation_mae: f64,
    /// Validation loss after each tree of the first bag member (the report's curve).
    valid_history: Vec<f64>,
    /// How the shipped model's training rows were hidden (the chosen shares).
    hiding: Hiding,
    /// Every candidate of the hide-share grid, measured on validation.
    grid: Vec<HideSharesCandidate>,
    /// The reference model: the same fit without any request-time feature, and its MAE
    /// on the scored validation rows.
    reference: gbm::Booster,
    reference_validation_mae: f64,
    /// The uncertainty table, from the early-stopped model's validation residuals (also
    /// with `--refit`: the refitted trees have seen the validation rows).
    uncertainty: Uncertainty,
    /// Residual percentiles pooled over the scored validation rows in state A (the
    /// manifest's `residual_quantiles`, for servers that predate the table).
    pooled_quantiles: Vec<f64>,
    training_seconds: f64,
}

/// The validation period in the three game-day states, stacked (A, then B, then C):
/// early stopping watches the loss over all three, and the grid compares candidates by
/// the mean of their scored-row MAEs.
struct ValidationStates {
    stacked: MaskedRows,
    /// Targets of the stacked rows (the validation targets three times).
    y: Vec<f64>,
    /// Rows of the period.
    n: usize,
    /// Indices of the scored validation rows (pre-game features only: the same in every
    /// state).
    scored: Vec<usize>,
}

impl ValidationStates {
    fn of(rows: &[FeatureRow], ix: &[usize], cols: &RequestTimeColumns) -> ValidationStates {
        let part: Vec<&FeatureRow> = ix.iter().map(|&i| &rows[i]).collect();
        let mut stacked = MaskedRows { x: vec![], source: vec![] };
        for state in State::ALL {
            stacked.extend(&game_day::masked(part.iter().copied(), Hiding::Every(state), cols));
        }
        let y1 = target(rows, ix);
        let y = State::ALL.iter().flat_map(|_| y1.iter().copied()).collect();
        ValidationStates { stacked, y, n: ix.len(), scored: eval::scored_indices(&part, EvaluationColumns::from_contract()) }
    }

    /// The rows of one state.
    fn state(&self, k: usize) -> (Vec<&[f32]>, &[f64]) {
        (self.stacked.rows()[k * self.n..(k + 1) * self.n].to_vec(), &self.y[k * self.n..(k + 1) * self.n])
    }

    /// The booster's MAE on the scored rows in each state, and on every row in state A.
    fn maes(&self, b: &gbm::Booster) -> (StateMaes, f64) {
        let mut mae = [0.0; 3];
        let mut all_rows_a = f64::NAN;
        for (k, m) in mae.iter_mut().enumerate() {
            let (x, y) = self.state(k);
            let pred = b.predict(&x);
            if k == 0 {
                all_rows_a = eval::Metrics::of(&pred, y).mae;
            }
            let pick = |v: &[f64]| self.scored.iter().map(|&i| v[i]).collect::<Vec<f64>>();
            *m = eval::Metrics::of(&pick(&pred), &pick(y)).mae;
        }
        let maes =
            StateMaes { lists_and_lineups_known: mae[0], lists_known_lineups_unknown: mae[1], nothing_known: mae[2], mean: mae.iter().sum::<f64>() / 3.0 };
        (maes, all_rows_a)
    }
}

/// One candidate of the grid, fitted: its members early-stopped on the stacked states.
struct Candidate {
    members: Vec<gbm::Booster>,
    booster: gbm::Booster,
    record: HideSharesCandidate,
    validation_mae: f64,
}

/// Fits one model per candidate share (`--hide-shares`), each on the training rows hidden
/// with those shares and early-stopped on validation in the three states, keeps the one
/// with the lowest mean scored-row validation MAE over the states, fits the reference
/// model, and refits on train + validation when asked. Only training and validation rows
/// are read here: the test period never chooses.
fn fit(args: &TrainArgs, rows: &[FeatureRow], split: &data::Split) -> Result<FittedModel, TrainError> {
    let started = Instant::now();
    let cols = RequestTimeColumns::from_contract();
    let valid = ValidationStates::of(rows, &split.valid, &cols);
    let y = target(rows, &split.train);
    let mut grid = vec![];
    let mut best: Option<(Candidate, Hiding)> = None;
    for shares in args.hide_shares.candidates() {
        let hiding = Hiding::Drawn { shares, seed: args.seed };
        let candidate = fit_candidate(args, rows, split, hiding, &valid, &cols, &y)?;
        grid.push(candidate.record.clone());
        if best.as_ref().is_none_or(|(b, _)| candidate.record.validation.mean < b.record.validation.mean) {
            best = Some((candidate, hiding));
        }
    }
    let Some((chosen, hiding)) = best else { return Err(TrainError::Training("no hide-share candidate to train".into())) };
    let (reference, reference_bag_trees) = fit_reference(args, rows, split, &valid, &cols, &y)?;
    let reference_validation_mae = valid.maes(&reference).0.nothing_known;
    tracing::info!(trees = reference.trees.len(), valid_mae = reference_validation_mae, "reference model without request-time features");
    let bag_trees: Vec<usize> = chosen.members.iter().map(|m| m.trees.len()).collect();
    let valid_history = chosen.booster.valid_history.clone();
    let (uncertainty, pooled_quantiles) = validation_uncertainty(args, &valid, &chosen.booster);
    let (booster, reference) = if args.refit {
        let both: Vec<usize> = split.train.iter().chain(&split.valid).copied().collect();
        let refit_x = masked_part(rows, &both, hiding, &cols);
        let mut refit = fit_with_kept_trees(args, &refit_x.rows(), &refit_x.targets(&target(rows, &both)), &bag_trees, "refit")?;
        refit.trees_grown = chosen.booster.trees_grown;
        let ref_x = masked_part(rows, &both, Hiding::Every(State::Nothing), &cols);
        let mut ref_refit = fit_with_kept_trees(args, &ref_x.rows(), &target(rows, &both), &reference_bag_trees, "refit of the reference")?;
        ref_refit.trees_grown = reference.trees_grown;
        (refit, ref_refit)
    } else {
        (chosen.booster, reference)
    };
    let training_seconds = started.elapsed().as_secs_f64();
    Ok(FittedModel {
        booster,
        bag_trees,
        validation_mae: chosen.validation_mae,
        valid_history,
        hiding,
        grid,
        reference,
        reference_validation_mae,
        uncertainty,
        pooled_quantiles,
        training_seconds,
    })
}

/// The uncertainty table and the pooled percentiles from the validation residuals of the
/// early-stopped model `booster`, predicted in every game-day state (see
/// [`calibration`]); the test period is not read.
fn validation_uncertainty(args: &TrainArgs, valid: &ValidationStates, booster: &gbm::Booster) -> (Uncertainty, Vec<f64>) {
    let x = valid.stacked.rows();
    let pred = booster.predict(&x);
    let table = calibration::table(&x, &pred, &valid.y, calibration::source(args.refit));
    // State A is the first block of the stacked rows.
    let pooled: Vec<f64> = valid.scored.iter().map(|&i| valid.y[i] - pred[i].max(0.0)).collect();
    for s in &table.states {
        let buckets: Vec<String> =
            s.buckets.iter().map(|b| format!("{} {}{}", b.bucket, b.rows, if b.quantiles.is_empty() { " (pooled)" } else { "" })).collect();
        tracing::info!(state = s.state.label(), rows = s.rows, buckets = %buckets.join(", "), "uncertainty table from validation");
    }
    (table, nba_registry::manifest::percentiles(&pooled))
}

/// The features of rows `ix`, hidden as `hiding` says.
fn masked_part(rows: &[FeatureRow], ix: &[usize], hiding: Hiding, cols: &RequestTimeColumns) -> MaskedRows {
    game_day::masked(ix.iter().map(|&i| &rows[i]), hiding, cols)
}

/// One grid candidate: the training rows hidden with its shares, early stopping on the
/// stacked validation states, and its validation MAE in each state.
fn fit_candidate(
    args: &TrainArgs,
    rows: &[FeatureRow],
    split: &data::Split,
    hiding: Hiding,
    valid: &ValidationStates,
    cols: &RequestTimeColumns,
    y: &[f64],
) -> Result<Candidate, TrainError> {
    let Hiding::Drawn { shares, .. } = hiding else { unreachable!("grid candidates draw their states") };
    let x = masked_part(rows, &split.train, hiding, cols);
    let what = format!("hide {},{}", shares.lineups_hidden, shares.both_hidden);
    let members = fit_bag_members(args, &what, &x.rows(), &x.targets(y), (&valid.stacked.rows(), &valid.y))?;
    let booster = gbm::average(&members)?;
    let (maes, validation_mae) = valid.maes(&booster);
    tracing::info!(
        lineups_hidden = shares.lineups_hidden,
        both_hidden = shares.both_hidden,
        trees = booster.trees.len(),
        valid_a = maes.lists_and_lineups_known,
        valid_b = maes.lists_known_lineups_unknown,
        valid_c = maes.nothing_known,
        valid_mean = maes.mean,
        "hide-share candidate"
    );
    let record = HideSharesCandidate { shares, validation: maes, trees: booster.trees.len() };
    Ok(Candidate { members, booster, record, validation_mae })
}

/// The reference: the same fit with every request-time feature missing in training and
/// validation rows (state C everywhere); with the trees each bag member kept.
fn fit_reference(
    args: &TrainArgs,
    rows: &[FeatureRow],
    split: &data::Split,
    valid: &ValidationStates,
    cols: &RequestTimeColumns,
    y: &[f64],
) -> Result<(gbm::Booster, Vec<usize>), TrainError> {
    let x = masked_part(rows, &split.train, Hiding::Every(State::Nothing), cols);
    let (vx, vy) = valid.state(2);
    let members = fit_bag_members(args, "reference without request-time features", &x.rows(), y, (&vx, vy))?;
    Ok((gbm::average(&members)?, members.iter().map(|m| m.trees.len()).collect()))
}

/// `--bag` boosters on the training rows, each early-stopped on `valid`, with a progress
/// bar naming the model (`what`) and the member being fitted.
fn fit_bag_members(args: &TrainArgs, what: &str, x: &[&[f32]], y: &[f64], valid: (&[&[f32]], &[f64])) -> Result<Vec<gbm::Booster>, TrainError> {
    let bag = usize::from(args.bag.max(1));
    let label = |k: usize| {
        let member = if bag > 1 { format!(" (bag member {}/{bag})", k + 1) } else { String::new() };
        format!("{what}: {} on {} rows{member}", args.objective, x.len())
    };
    let pb = progress_bar(args, label(0));
    let metric = args.objective.metric_name();
    let mut shown = 0;
    let mut on_tree = |k: usize, pr: gbm::Progress| {
        if let Some(pb) = &pb {
            if k != shown {
                shown = k;
                pb.set_prefix(label(k));
            }
            pb.set_position(pr.trees as u64);
            if let Some(l) = pr.valid_loss {
                pb.set_message(format!("validation {metric} {l:.4} (best at {} trees)", pr.best_trees));
            }
        }
    };
    let members = gbm::fit_bag(&params(args), bag, x, y, Some(valid), nba_features::N_FEATURES, &mut on_tree)?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    Ok(members)
}

/// One booster per bag member on rows `x`, each with that member's seed and the number
/// of trees it kept (no early stopping: there is no validation part left), averaged.
/// The refit and every walk-forward month train this way.
fn fit_with_kept_trees(args: &TrainArgs, x: &[&[f32]], y: &[f64], bag_trees: &[usize], what: &str) -> Result<gbm::Booster, TrainError> {
    let total: usize = bag_trees.iter().map(|&t| t.max(1)).sum();
    let pb = progress_bar(&TrainArgs { iterations: total, ..args.clone() }, format!("{what} on {} rows", x.len()));
    let mut members = vec![];
    let mut done = 0;
    for (k, &trees) in bag_trees.iter().enumerate() {
        let p = gbm::Params { iterations: trees.max(1), seed: gbm::member_seed(args.seed, k), ..params(args) };
        let mut on_tree = |pr: gbm::Progress| {
            if let Some(pb) = &pb {
                pb.set_position((done + pr.trees) as u64);
            }
        };
        members.push(gbm::fit(&p, x, y, None, nba_features::N_FEATURES, &mut on_tree)?);
        done += trees.max(1);
    }
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    gbm::average(&members)
}

/// The test part and the shipped forest's predictions of it.
struct TestPredictions<'a> {
    rows: Vec<&'a FeatureRow>,
    /// The rows' features, row-major, as the model takes them.
    x: Vec<f32>,
    /// The forest's predictions (f32, as served) and the same widened for the metrics.
    pred32: Vec<f32>,
    pred: Vec<f64>,
    /// Indices into `rows` of the scored rows (see [`crate::eval`]).
    scored: Vec<usize>,
}

impl<'a> TestPredictions<'a> {
    /// Test predictions come from the forest that is shipped. Fails when no test row is
    /// scored (the evaluation would be empty).
    fn of(forest: &Forest, rows: &'a [FeatureRow], split: &data::Split) -> Result<TestPredictions<'a>, TrainError> {
        let rows: Vec<&FeatureRow> = split.test.iter().map(|&i| &rows[i]).collect();
        let x: Vec<f32> = rows.iter().flat_map(|r| r.features.iter().copied()).collect();
        let pred32 = forest.predict_batch(&x)?;
        let pred: Vec<f64> = pred32.iter().map(|&p| p as f64).collect();
        let scored = eval::scored_indices(&rows, EvaluationColumns::from_contract());
        if scored.is_empty() {
            return Err(TrainError::Data("no scored test rows (min_avg_10 >= 15 with all baselines defined)".into()));
        }
        Ok(TestPredictions { rows, x, pred32, pred, scored })
    }
}

/// The ONNX file and how far tract's scores of it are from the forest's.
struct ExportedModel {
    onnx: Vec<u8>,
    max_abs_diff: f64,
}

/// Exports the forest to ONNX and scores every test row through tract: the file must
/// score like the forest, else nothing is written.
fn export_checked(forest: &Forest, test: &TestPredictions) -> Result<ExportedModel, TrainError> {
    let onnx = to_onnx_bytes(forest, &format!("nba points model, contract {}", nba_features::contract_hash()))?;
    let tract = OnnxModel::load(&onnx, nba_features::N_FEATURES)?;
    let tract_pred = tract.predict(&test.x)?;
    let max_abs_diff = tract_pred.iter().zip(&test.pred32).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max);
    if max_abs_diff.is_nan() || max_abs_diff > ONNX_MAX_ABS_DIFF {
        return Err(TrainError::Training(format!("ONNX (tract) and in-memory predictions differ by {max_abs_diff}")));
    }
    Ok(ExportedModel { onnx, max_abs_diff })
}

/// The scored test rows in every game-day state (A as built, B and C hidden, D the lists
/// forced empty and recomputed from `history`), the reference model (E) and the
/// baselines, all on the same rows. A is the headline model line (`metrics.scored`).
fn game_day_evaluation(
    args: &TrainArgs,
    data: (&[FeatureRow], &data::Split),
    fitted: &FittedModel,
    forest: &Forest,
    test: &TestPredictions,
    history: &History,
) -> Result<GameDayEvaluation, TrainError> {
    let cols = RequestTimeColumns::from_contract();
    let rows: Vec<&FeatureRow> = test.scored.iter().map(|&i| test.rows[i]).collect();
    let actual: Vec<f64> = rows.iter().map(|r| r.target_pts as f64).collect();
    let score = |f: &Forest, x: &MaskedRows| -> Result<eval::Metrics, TrainError> {
        let pred: Vec<f64> = f.predict_batch(&x.x)?.into_iter().map(f64::from).collect();
        Ok(eval::Metrics::of(&pred, &actual))
    };
    let state = |s: State| game_day::masked(rows.iter().copied(), Hiding::Every(s), &cols);
    let (forced_empty, recomputed_pre_game_mismatches) = game_day::lists_forced_empty(&rows, history, &cols)?;
    let reference = fitted.reference.to_forest()?;
    // The rows the shipped trees were fitted on: the refit adds the validation period.
    let (all, split) = data;
    let fitted_on = split.train.iter().chain(if args.refit { &split.valid[..] } else { &[] });
    let (train_rows, mask_digest) = game_day::mask_summary(fitted_on.map(|&i| &all[i]), fitted.hiding);
    let Hiding::Drawn { shares: hide_shares, seed: hide_seed } = fitted.hiding else { unreachable!("the shipped model draws its states") };
    Ok(GameDayEvaluation {
        hide_shares,
        chosen_by: args.hide_shares.chosen_by().to_string(),
        grid: fitted.grid.clone(),
        hide_seed,
        train_rows,
        mask_digest,
        lists_and_lineups_known: score(forest, &state(State::ListsAndLineups))?,
        lists_known_lineups_unknown: score(forest, &state(State::ListsOnly))?,
        nothing_known: score(forest, &state(State::Nothing))?,
        lists_forced_empty: score(forest, &forced_empty)?,
        reference_without_request_time: score(&reference, &state(State::Nothing))?,
        reference_trees: fitted.reference.trees.len(),
        reference_validation_mae: fitted.reference_validation_mae,
        baselines: eval::baselines(&rows, EvaluationColumns::from_contract()),
        recomputed_pre_game_mismatches,
    })
}

/// One log line per game-day state, and the choice of shares.
fn log_game_day(g: &GameDayEvaluation) {
    let s = g.hide_shares;
    tracing::info!(lineups_hidden = s.lineups_hidden, both_hidden = s.both_hidden, chosen_by = %g.chosen_by, candidates = g.grid.len(), "hide shares");
    for (state, m) in game_day::test_lines(g) {
        tracing::info!(rows = m.rows, mae = m.mae, rmse = m.rmse, bias = m.bias, "test, {state}");
    }
    if g.recomputed_pre_game_mismatches > 0 {
        tracing::warn!(
            rows = g.recomputed_pre_game_mismatches,
            "scored test rows whose pre-game features recomputed from the history differ from player_features"
        );
    }
}

/// [`CANARIES`] scored test rows spread evenly from the first to the last, with the
/// forest's predictions: the server checks a loaded model against them.
fn canaries(test: &TestPredictions) -> Vec<Canary> {
    let scored = &test.scored;
    (0..CANARIES)
        .map(|k| scored[k * (scored.len() - 1) / (CANARIES - 1)])
        .map(|i| Canary {
            game_id: test.rows[i].game_id.clone(),
            player_id: test.rows[i].player_id.clone(),
            features: test.rows[i].features.iter().map(|&x| (!x.is_nan()).then_some(x)).collect(),
            expected: test.pred32[i],
        })
        .collect()
}

/// Total split gain per feature, largest first.
fn feature_gain(booster: &gbm::Booster) -> Vec<FeatureGain> {
    let names = nba_features::feature_names();
    let mut gain: Vec<FeatureGain> = booster.feature_gain().into_iter().zip(&names).map(|(gain, f)| FeatureGain { feature: f.clone(), gain }).collect();
    gain.sort_by(|a, b| b.gain.total_cmp(&a.gain));
    gain
}

/// The evaluations besides the test metrics: the game-day states and, when asked, the
/// walk-forward.
struct MoreEvaluations {
    game_day: GameDayEvaluation,
    walk_forward: Option<WalkForward>,
    calibration: Calibration,
}

/// The manifest of the new version; its name is the creation time and the model's hash.
fn manifest(
    args: &TrainArgs,
    rows: &[FeatureRow],
    split: &data::Split,
    fitted: &FittedModel,
    test: &TestPredictions,
    exported: &ExportedModel,
    more: MoreEvaluations,
) -> Manifest {
    let now = chrono::Utc::now();
    let sha = hex::encode(Sha256::digest(&exported.onnx));
    Manifest {
        version: format!("{}-{}", now.format("%Y%m%dT%H%M%S%3fZ"), &sha[..8]),
        created_at: now.to_rfc3339(),
        source_commit: source_commit(),
        database: args.clickhouse.connection.database.clone(),
        split: SplitInfo {
            train: part_info(rows, &split.train, split.periods.train.to_string()),
            validation: part_info(rows, &split.valid, split.periods.valid.to_string()),
            test: part_info(rows, &split.test, split.periods.test_label()),
            as_of: split.periods.as_of.map(|d| d.to_string()),
        },
        feature_names: nba_features::feature_names(),
        feature_version: nba_features::FEATURE_VERSION,
        contract_hash: nba_features::contract_hash(),
        hyper_parameters: hyper_params(args, &fitted.booster, fitted.bag_trees.clone()),
        validation_mae: fitted.validation_mae,
        metrics: eval::evaluate(&test.rows, &test.pred),
        training_seconds: fitted.training_seconds,
        model_sha256: sha,
        onnx_max_abs_diff: exported.max_abs_diff,
        canaries: canaries(test),
        residual_quantiles: fitted.pooled_quantiles.clone(),
        feature_gain: feature_gain(&fitted.booster),
        walk_forward: more.walk_forward,
        game_day: Some(more.game_day),
        uncertainty: Some(fitted.uncertainty.clone()),
        calibration: Some(more.calibration),
    }
}

/// The `model_registry` events of a train run: created, then promoted or refused.
fn train_events(manifest: &Manifest, scored_rows: usize, promoted: bool, refused: Option<&str>) -> Vec<ModelRegistryRow> {
    let created = format!("test MAE {:.4} on {scored_rows} scored rows", manifest.metrics.scored.model.mae);
    let mut events = vec![registry_table::event(manifest, registry_table::CREATED, &created)];
    if promoted {
        events.push(registry_table::event(manifest, registry_table::PROMOTED, "train --promote: gate passed"));
    }
    if let Some(why) = refused {
        events.push(registry_table::event(manifest, registry_table::REFUSED, why));
    }
    events
}

/// Retrains month by month through the test period: each month's rows are predicted by
/// a model trained on every row from the start of the training period up to the day
/// before that month, with the main model's trees (chosen on validation): with bagging,
/// one booster per member, each with that member's seed and number of trees, averaged.
/// Training rows are hidden with the main model's shares.
fn walk_forward(args: &TrainArgs, rows: &[FeatureRow], split: &data::Split, fitted: &FittedModel) -> Result<WalkForward, TrainError> {
    let started = Instant::now();
    let (bag_trees, cols) = (&fitted.bag_trees[..], RequestTimeColumns::from_contract());
    let first = split.train.iter().map(|&i| rows[i].game_date).min().unwrap_or_default();
    let mut months: Vec<String> = split.test.iter().map(|&i| eval::month(&rows[i])).collect();
    months.dedup();
    let trees: usize = bag_trees.iter().map(|&t| t.max(1)).sum();
    let mut pred = vec![f64::NAN; split.test.len()];
    let mut out = vec![];
    for m in months {
        let test_ix: Vec<usize> = (0..split.test.len()).filter(|&k| eval::month(&rows[split.test[k]]) == m).collect();
        let start = test_ix.iter().map(|&k| rows[split.test[k]].game_date).min().unwrap_or_default();
        let month_start = start.with_day(1).unwrap_or(start);
        let train_ix: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].game_date >= first && rows[i].game_date < month_start).collect();
        let x = masked_part(rows, &train_ix, fitted.hiding, &cols);
        let b = fit_with_kept_trees(args, &x.rows(), &x.targets(&target(rows, &train_ix)), bag_trees, &format!("walk-forward {m}"))?;
        for &k in &test_ix {
            pred[k] = b.predict_row(&rows[split.test[k]].features) as f32 as f64;
        }
        tracing::info!(month = %m, train_rows = train_ix.len(), "walk-forward month");
        out.push(WalkForwardMonth { month: m, train_rows: train_ix.len(), test_rows: test_ix.len(), trees });
    }
    let test_rows: Vec<&FeatureRow> = split.test.iter().map(|&i| &rows[i]).collect();
    Ok(WalkForward { months: out, metrics: eval::evaluate(&test_rows, &pred), seconds: started.elapsed().as_secs_f64() })
}

/// `nba-trainer export-rows`: the split's rows as raw little-endian arrays plus
/// `meta.json`, for scripts/xgb_compare.py.
pub async fn export_rows(args: &TrainArgs, out: &Path) -> Result<serde_json::Value, TrainError> {
    let (rows, split) = load(args).await?;
    let io = |p: &Path, e: std::io::Error| TrainError::Data(format!("writing {}: {e}", p.display()));
    std::fs::create_dir_all(out).map_err(|e| io(out, e))?;
    let cols = EvaluationColumns::from_contract();
    let mut parts = serde_json::Map::new();
    for (name, ix) in [("train", &split.train), ("valid", &split.valid), ("test", &split.test)] {
        let x: Vec<u8> = ix.iter().flat_map(|&i| rows[i].features.iter().flat_map(|v| v.to_le_bytes())).collect();
        let y: Vec<u8> = ix.iter().flat_map(|&i| (rows[i].target_pts as f32).to_le_bytes()).collect();
        let scored: Vec<u8> = ix.iter().map(|&i| u8::from(cols.scored(&rows[i].features))).collect();
        for (file, bytes) in [(format!("{name}_x.f32"), x), (format!("{name}_y.f32"), y), (format!("{name}_scored.u8"), scored)] {
            let p = out.join(file);
            std::fs::write(&p, bytes).map_err(|e| io(&p, e))?;
        }
        parts.insert(name.into(), serde_json::json!({ "rows": ix.len() }));
    }
    let meta = serde_json::json!({
        "database": args.clickhouse.connection.database,
        "n_features": nba_features::N_FEATURES,
        "feature_names": nba_features::feature_names(),
        "contract_hash": nba_features::contract_hash(),
        "split": { "train": split.periods.train.to_string(), "valid": split.periods.valid.to_string(), "test": split.periods.test_label() },
        "parts": parts,
        "layout": "<part>_x.f32 row-major float32 [rows, n_features] (NaN = missing), <part>_y.f32 float32 points, <part>_scored.u8 1 = scored row",
    });
    let p = out.join("meta.json");
    std::fs::write(&p, serde_json::to_vec_pretty(&meta).unwrap_or_default()).map_err(|e| io(&p, e))?;
    Ok(meta)
}

/// `Some(reason)` when the new model may not be promoted.
fn gate(args: &TrainArgs, registry: &Registry, m: &Manifest, test_rows: &[&FeatureRow], scored: &[usize]) -> Result<Option<String>, TrainError> {
    let model = m.metrics.scored.model.mae;
    // Without a test window the compared rows are the validation window (the newest rows).
    let part = if m.split.test.period == data::NO_TEST_WINDOW { "validation-window" } else { "test" };
    let Some((name, best)) = m.metrics.scored.best_baseline() else { return Ok(Some("no baseline".into())) };
    let passes = model <= best.mae * (1.0 - args.gate_min_gain); // false for NaN
    if !passes {
        return Ok(Some(format!(
            "{part} MAE {model:.4} does not beat the best baseline ({name}, {:.4}) by {:.1}% on the same {} rows",
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
            "{part} MAE {model:.4} is worse than the current model {} ({cur_mae:.4} on the same rows) by more than {:.1}%",
            current.version,
            args.gate_max_loss * 100.0
        )));
    }
    Ok(None)
}

fn summary(m: &Manifest) -> String {
    let s = &m.metrics.scored;
    let mut out = format!(
        "version {}\n  {} objective, trees {} of {} grown, training {:.1}s, validation MAE {:.4}\n  scored test rows {} (of {} test rows)\n  {:<16} MAE {:.4}  RMSE {:.4}  bias {:+.4}  median AE {:.4}\n",
        m.version,
        m.hyper_parameters.objective,
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
    if m.split.test.period == data::NO_TEST_WINDOW {
        out += &format!("  no test window: every figure here is on the validation window {}, which early stopping used\n", m.split.validation.period);
    }
    for (name, b) in &s.baselines {
        out += &format!("  {:<16} MAE {:.4}  RMSE {:.4}  bias {:+.4}  median AE {:.4}\n", name, b.mae, b.rmse, b.bias, b.median_ae);
    }
    if let Some(g) = &m.game_day {
        let h = g.hide_shares;
        out += &format!(
            "  game-day states, same scored rows (trained on every row plus copies of {:.0}% with lineups hidden and {:.0}% with lists and lineups hidden, {}):\n",
            100.0 * h.lineups_hidden,
            100.0 * h.both_hidden,
            g.chosen_by
        );
        for (state, x) in game_day::test_lines(g) {
            out += &format!("    {:<45} MAE {:.4}  RMSE {:.4}  bias {:+.4}\n", state, x.mae, x.rmse, x.bias);
        }
    }
    out
}

fn mirror_exit(result: Result<(), String>) -> i32 {
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("nba-trainer: warning: the registry on disk is changed, but {e}");
            EXIT_MIRROR_FAILED
        }
    }
}

/// Runs one command; returns the process exit code for a completed command.
pub async fn run(cli: crate::Cli) -> anyhow::Result<i32> {
    let registry = Registry::new(&cli.registry);
    match cli.command {
        Command::Train(args) => {
            let outcome = train(&args, &cli.registry).await?;
            print!("{}", summary(&outcome.manifest));
            println!("  report: {}", registry.version_dir(&outcome.manifest.version).join(training_report::REPORT_FILE).display());
            match (&outcome.refused, outcome.promoted) {
                (Some(why), _) => println!("  not promoted: {why}"),
                (None, true) => println!("  promoted: current is {}", outcome.manifest.version),
                (None, false) => println!("  saved (not promoted; use --promote or `promote {}`)", outcome.manifest.version),
            }
            if let Some(e) = &outcome.mirror_error {
                eprintln!("nba-trainer: warning: version {} is saved on disk, but {e}", outcome.manifest.version);
            }
            Ok(outcome.exit_code())
        }
        Command::List => {
            let current = registry.current()?.map(|c| c.version);
            for v in registry.list()? {
                let m = registry.manifest(&v)?;
                let mark = if current.as_deref() == Some(v.as_str()) { "*" } else { " " };
                println!(
                    "{mark} {v}  {:<14} test MAE {:.4} on {} rows  created {}",
                    m.hyper_parameters.objective, m.metrics.scored.model.mae, m.metrics.scored.model.rows, m.created_at
                );
            }
            Ok(EXIT_OK)
        }
        Command::Show { version } => {
            let m = registry.manifest(&version)?;
            println!("{}", serde_json::to_string_pretty(&m)?);
            Ok(EXIT_OK)
        }
        Command::Promote { version, clickhouse } => {
            let c = registry.promote(&version)?;
            println!("current: {}", c.version);
            let m = registry.manifest(&c.version)?;
            Ok(mirror_exit(registry_table::record(&clickhouse, &[registry_table::event(&m, registry_table::PROMOTED, "promote command")]).await))
        }
        Command::Rollback { clickhouse } => {
            let before = registry.current()?.map(|c| c.version).unwrap_or_default();
            let c = registry.rollback()?;
            println!("current: {}", c.version);
            let m = registry.manifest(&c.version)?;
            let event = registry_table::event(&m, registry_table::ROLLED_BACK, &format!("rollback from {before}"));
            Ok(mirror_exit(registry_table::record(&clickhouse, &[event]).await))
        }
        Command::ExportRows { out, args } => {
            let meta = export_rows(&args, &out).await?;
            println!("{}", serde_json::to_string_pretty(&meta["parts"])?);
            Ok(EXIT_OK)
        }
    }
}
