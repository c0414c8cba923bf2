//! `report.md` and its SVG plots, written beside the model in the version folder: the
//! test tables (model against the three baselines on the scored rows and on all rows,
//! the game-day states and the hide-share grid, breakdowns by minutes band, role and
//! month, the calibrated intervals and P(over) reliability, walk-forward when run) and
//! plots of feature importance (gain), predicted vs actual, residual by predicted, MAE by
//! month, the validation curve and the reliability of P(over). Plots use plotters' SVG backend, which writes text as SVG
//! `<text>`, so no font library is needed.

use crate::TrainError;
use crate::data::FeatureRow;
use crate::eval::{self, BASELINES, EvaluationColumns};
use crate::game_day;
use crate::manifest::{BaselineComparison, GameDayEvaluation, Manifest, Metrics, WalkForward};
use nba_registry::{Calibration, Uncertainty};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write;

pub const REPORT_FILE: &str = "report.md";
pub const PLOTS: [&str; 5] = ["feature_gain.svg", "predicted_vs_actual.svg", "residual_by_predicted.svg", "mae_by_month.svg", "validation_curve.svg"];

/// The reliability plot of P(over), written when the manifest has a calibration.
pub const RELIABILITY_PLOT: &str = "reliability.svg";

type PlotResult = Result<(), String>;

/// A plotters error as text (their error types differ by backend).
fn message<E: std::fmt::Display>(x: E) -> String {
    x.to_string()
}

/// Draws into an SVG of `w` x `h` pixels.
fn svg(name: &str, w: u32, h: u32, draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> PlotResult) -> Result<(String, Vec<u8>), TrainError> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(message)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(message))
            .map_err(|m| TrainError::Training(format!("plot {name}: {m}")))?;
    }
    Ok((name.to_string(), buf.into_bytes()))
}

const COLORS: [RGBColor; 4] = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40)];

fn feature_gain_plot(m: &Manifest) -> Result<(String, Vec<u8>), TrainError> {
    let top: Vec<_> = m.feature_gain.iter().take(25).collect();
    let total: f64 = m.feature_gain.iter().map(|g| g.gain).sum::<f64>().max(f64::MIN_POSITIVE);
    let max = top.first().map_or(1.0, |g| g.gain).max(f64::MIN_POSITIVE);
    let row = 22;
    svg(PLOTS[0], 820, 60 + row * top.len().max(1) as u32, |root| {
        root.draw(&Text::new("Feature importance: share of total split gain (top 25)", (10, 12), ("sans-serif", 18))).map_err(message)?;
        for (i, g) in top.iter().enumerate() {
            let y = 45 + (i as u32 * row) as i32;
            root.draw(&Text::new(g.feature.clone(), (10, y), ("sans-serif", 14))).map_err(message)?;
            let w = (g.gain / max * 480.0) as i32;
            root.draw(&Rectangle::new([(220, y - 2), (220 + w.max(1), y + 14)], COLORS[0].filled())).map_err(message)?;
            root.draw(&Text::new(format!("{:.1}%", 100.0 * g.gain / total), (226 + w, y), ("sans-serif", 13))).map_err(message)?;
        }
        Ok(())
    })
}

/// Every k-th index so that at most `n` are drawn (deterministic).
fn thin(len: usize, n: usize) -> impl Iterator<Item = usize> {
    (0..len).step_by(len.div_ceil(n.max(1)).max(1))
}

fn scatter_plot(pred: &[f64], actual: &[f64]) -> Result<(String, Vec<u8>), TrainError> {
    let hi = pred.iter().chain(actual).copied().fold(10.0f64, f64::max).ceil();
    svg(PLOTS[1], 700, 700, |root| {
        let mut c = ChartBuilder::on(root)
            .caption(format!("Predicted vs actual points (scored test rows, {} of {} shown)", thin(pred.len(), 4000).count(), pred.len()), ("sans-serif", 16))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..hi, 0.0..hi)
            .map_err(message)?;
        c.configure_mesh().x_desc("predicted").y_desc("actual").draw().map_err(message)?;
        c.draw_series(thin(pred.len(), 4000).map(|i| Circle::new((pred[i], actual[i]), 2, COLORS[0].mix(0.3).filled()))).map_err(message)?;
        c.draw_series(LineSeries::new([(0.0, 0.0), (hi, hi)], BLACK.stroke_width(1))).map_err(message)?;
        Ok(())
    })
}

fn residual_plot(pred: &[f64], actual: &[f64]) -> Result<(String, Vec<u8>), TrainError> {
    // Residual (actual - predicted) percentiles per 2-point band of prediction.
    let mut bands: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for (p, a) in pred.iter().zip(actual) {
        bands.entry((p / 2.0).floor() as i64).or_default().push(a - p);
    }
    let q = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * p).round() as usize]
    };
    let mut lines: [Vec<(f64, f64)>; 3] = Default::default();
    for (b, mut v) in bands.into_iter().filter(|(_, v)| v.len() >= 30) {
        let x = b as f64 * 2.0 + 1.0;
        for (k, p) in [0.1, 0.5, 0.9].into_iter().enumerate() {
            lines[k].push((x, q(&mut v, p)));
        }
    }
    let xmax = pred.iter().copied().fold(10.0f64, f64::max).ceil();
    let (ylo, yhi) = pred.iter().zip(actual).map(|(p, a)| a - p).fold((-10.0f64, 10.0f64), |(lo, hi), r| (lo.min(r), hi.max(r)));
    svg(PLOTS[2], 760, 520, |root| {
        let mut c = ChartBuilder::on(root)
            .caption("Residual (actual - predicted) by predicted points, scored test rows", ("sans-serif", 16))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..xmax, ylo.floor()..yhi.ceil())
            .map_err(message)?;
        c.configure_mesh().x_desc("predicted").y_desc("residual").draw().map_err(message)?;
        c.draw_series(thin(pred.len(), 4000).map(|i| Circle::new((pred[i], actual[i] - pred[i]), 2, RGBColor(150, 150, 150).mix(0.25).filled())))
            .map_err(message)?;
        c.draw_series(LineSeries::new([(0.0, 0.0), (xmax, 0.0)], BLACK.stroke_width(1))).map_err(message)?;
        for (k, name) in ["p10", "median", "p90"].into_iter().enumerate() {
            let color = COLORS[if k == 1 { 3 } else { 0 }];
            c.draw_series(LineSeries::new(lines[k].clone(), color.stroke_width(2)))
                .map_err(message)?
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        c.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(message)?;
        Ok(())
    })
}

fn month_plot(by_month: &BTreeMap<String, BaselineComparison>) -> Result<(String, Vec<u8>), TrainError> {
    let months: Vec<&String> = by_month.keys().collect();
    let mut series: Vec<(String, Vec<(f64, f64)>)> = vec![("model".into(), vec![])];
    series.extend(BASELINES.iter().map(|b| (b.to_string(), vec![])));
    for (i, r) in by_month.values().enumerate() {
        series[0].1.push((i as f64, r.model.mae));
        for (k, b) in BASELINES.iter().enumerate() {
            series[k + 1].1.push((i as f64, r.baselines[*b].mae));
        }
    }
    let all = series.iter().flat_map(|s| s.1.iter().map(|p| p.1)).filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo.is_finite() { (lo - 0.1, hi + 0.1) } else { (0.0, 1.0) };
    svg(PLOTS[3], 760, 480, |root| {
        let mut c = ChartBuilder::on(root)
            .caption("MAE by month, scored test rows: model and baselines", ("sans-serif", 16))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(-0.3..(months.len().max(1) as f64 - 0.7), lo..hi)
            .map_err(message)?;
        c.configure_mesh()
            .x_labels(months.len().max(2))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 { months.get(i as usize).map(|s| s.to_string()).unwrap_or_default() } else { String::new() }
            })
            .y_desc("MAE (points)")
            .draw()
            .map_err(message)?;
        for (k, (name, pts)) in series.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            let width = if k == 0 { 3 } else { 1 };
            c.draw_series(LineSeries::new(pts.clone(), color.stroke_width(width)))
                .map_err(message)?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(width)));
            c.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(message)?;
        }
        c.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(message)?;
        Ok(())
    })
}

fn curve_plot(metric: &str, history: &[f64], kept: usize) -> Result<(String, Vec<u8>), TrainError> {
    let finite = history.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo.is_finite() && hi > lo { (lo, hi) } else { (0.0, 1.0) };
    // The first trees dominate the scale; show from where the loss is within 10% of best.
    let from = history.iter().position(|&v| v <= lo * 1.1).unwrap_or(0);
    let top = history.get(from).copied().unwrap_or(hi).max(lo + 1e-6);
    svg(PLOTS[4], 760, 420, |root| {
        let mut c = ChartBuilder::on(root)
            .caption(format!("Validation {metric} by trees ({kept} kept)"), ("sans-serif", 16))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(from as f64..history.len().max(from + 1) as f64, lo - (top - lo) * 0.05..top)
            .map_err(message)?;
        c.configure_mesh().x_desc("trees").y_desc(metric).draw().map_err(message)?;
        c.draw_series(LineSeries::new(history.iter().enumerate().skip(from).map(|(i, &v)| ((i + 1) as f64, v)), COLORS[0].stroke_width(2))).map_err(message)?;
        c.draw_series(LineSeries::new([(kept as f64, lo - (top - lo) * 0.05), (kept as f64, top)], COLORS[3].stroke_width(1))).map_err(message)?;
        Ok(())
    })
}

/// Observed frequency of going over against mean predicted P(over), per bin, for the
/// table and the pooled method in each measured state; the diagonal is perfect.
fn reliability_plot(c: &Calibration) -> Result<(String, Vec<u8>), TrainError> {
    let mut series: Vec<(String, Vec<(f64, f64)>)> = vec![];
    for s in &c.states {
        for (method, m) in [("table", &s.by_role), ("pooled", &s.pooled)] {
            let pts = m.reliability.iter().filter(|b| b.rows > 0).map(|b| (b.mean_predicted, b.observed)).collect();
            series.push((format!("{} {method} (ECE {:.4})", &s.state.label()[..1], m.ece), pts));
        }
    }
    svg(RELIABILITY_PLOT, 620, 620, |root| {
        let mut ch = ChartBuilder::on(root)
            .caption("P(over) reliability, scored test rows, synthetic lines", ("sans-serif", 16))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)
            .map_err(message)?;
        ch.configure_mesh().x_desc("mean predicted P(over)").y_desc("observed share over").draw().map_err(message)?;
        ch.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.stroke_width(1))).map_err(message)?;
        for (k, (name, pts)) in series.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            ch.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(message)?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
            ch.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(message)?;
        }
        ch.configure_series_labels().position(SeriesLabelPosition::UpperLeft).background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(message)?;
        Ok(())
    })
}

fn metrics_table(out: &mut String, r: &BaselineComparison) {
    let best = r.best_baseline().map(|b| b.1.mae).unwrap_or(f64::NAN);
    let _ = writeln!(out, "| predictor | rows | MAE | RMSE | bias | median AE | MAE vs best baseline |\n| --- | --- | --- | --- | --- | --- | --- |");
    let line = |out: &mut String, name: &str, m: &Metrics| {
        let _ = writeln!(
            out,
            "| {name} | {} | {:.4} | {:.4} | {:+.3} | {:.3} | {:+.2}% |",
            m.rows,
            m.mae,
            m.rmse,
            m.bias,
            m.median_ae,
            100.0 * (m.mae / best - 1.0)
        );
    };
    line(out, "**model**", &r.model);
    let mut bs: Vec<_> = r.baselines.iter().collect();
    bs.sort_by(|a, b| a.1.mae.total_cmp(&b.1.mae));
    for (name, m) in bs {
        line(out, name, m);
    }
}

fn breakdown_table(out: &mut String, title: &str, groups: &BTreeMap<String, BaselineComparison>) {
    let _ = writeln!(out, "\n### MAE by {title} (scored rows)\n\n| {title} | rows | model | {} | model vs best baseline |", BASELINES.join(" | "));
    let _ = writeln!(out, "| --- | --- | --- |{} --- |", " --- |".repeat(BASELINES.len()));
    for (k, r) in groups {
        let best = r.best_baseline().map_or(f64::NAN, |b| b.1.mae);
        let bs: Vec<String> = BASELINES.iter().map(|b| format!("{:.3}", r.baselines[*b].mae)).collect();
        let _ = writeln!(out, "| {k} | {} | **{:.3}** | {} | {:+.2}% |", r.model.rows, r.model.mae, bs.join(" | "), 100.0 * (r.model.mae / best - 1.0));
    }
}

/// The report and its plots: (file name, bytes) for the version folder.
pub fn render(m: &Manifest, test_rows: &[&FeatureRow], pred: &[f64], valid_history: &[f64]) -> Result<Vec<(String, Vec<u8>)>, TrainError> {
    let cols = EvaluationColumns::from_contract();
    let scored = eval::scored_indices(test_rows, cols);
    let s_rows: Vec<&FeatureRow> = scored.iter().map(|&i| test_rows[i]).collect();
    let s_pred: Vec<f64> = scored.iter().map(|&i| pred[i]).collect();
    let s_actual: Vec<f64> = s_rows.iter().map(|r| r.target_pts as f64).collect();
    let breakdowns = Breakdowns {
        by_minutes: eval::grouped_comparisons(&s_rows, &s_pred, |r| eval::minutes_band(cols, r)),
        by_role: eval::grouped_comparisons(&s_rows, &s_pred, |r| eval::role(cols, r)),
        by_month: eval::grouped_comparisons(&s_rows, &s_pred, eval::month),
    };
    let hp = &m.hyper_parameters;
    let mut files = vec![
        (REPORT_FILE.to_string(), markdown(m, &breakdowns).into_bytes()),
        feature_gain_plot(m)?,
        scatter_plot(&s_pred, &s_actual)?,
        residual_plot(&s_pred, &s_actual)?,
        month_plot(&breakdowns.by_month)?,
        // With bagging, the curve is the first member's (its own kept trees marked).
        curve_plot(&hp.early_stopping_metric, valid_history, hp.bag_trees.first().copied().unwrap_or(hp.trees_used))?,
    ];
    if let Some(c) = &m.calibration {
        files.push(reliability_plot(c)?);
    }
    Ok(files)
}

/// The model against the baselines per group of scored test rows.
struct Breakdowns {
    by_minutes: BTreeMap<String, BaselineComparison>,
    by_role: BTreeMap<String, BaselineComparison>,
    by_month: BTreeMap<String, BaselineComparison>,
}

/// `report.md`: its sections in order.
fn markdown(m: &Manifest, breakdowns: &Breakdowns) -> String {
    let mut out = String::new();
    model_section(&mut out, m);
    test_sections(&mut out, m, breakdowns);
    if let Some(g) = &m.game_day {
        game_day_section(&mut out, g);
    }
    if let (Some(u), Some(c)) = (&m.uncertainty, &m.calibration) {
        calibration_section(&mut out, u, c);
    }
    if let Some(w) = &m.walk_forward {
        walk_forward_section(&mut out, w);
    }
    plots_section(&mut out);
    feature_gain_section(&mut out, m);
    out
}

/// Title, hyper-parameters, provenance and the split.
fn model_section(out: &mut String, m: &Manifest) {
    let hp = &m.hyper_parameters;
    let _ = writeln!(out, "# Model {}\n", m.version);
    let bagging = if hp.bag > 1 {
        format!(
            " Seed bagging: the average of {} boosters (seeds {}..={}, trees kept {}), shipped as one ensemble.",
            hp.bag,
            hp.seed,
            hp.seed + hp.bag as u64 - 1,
            hp.bag_trees.iter().map(ToString::to_string).collect::<Vec<_>>().join(" + ")
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "Objective `{}`, {} trees kept of {} grown (early stopping on {}), learning rate {}, max depth {}, max leaves {}, \
         min leaf weight {}, L2 {}, subsample {}, column sample {}, {} bins, seed {}.{} Training took {:.1} s.{} \
         Created {} from commit {}, database `{}`.\n",
        hp.objective,
        hp.trees_used,
        hp.trees_grown,
        hp.early_stopping_metric,
        hp.learning_rate,
        hp.max_depth,
        hp.max_leaves,
        hp.min_leaf_weight,
        hp.l2,
        hp.subsample,
        hp.colsample_bytree,
        hp.nbins,
        hp.seed,
        bagging,
        m.training_seconds,
        if hp.refit_on_validation { " The shipped trees were then refitted on train + validation with that many trees." } else { "" },
        m.created_at,
        m.source_commit.as_deref().unwrap_or("unknown"),
        m.database
    );
    let _ = writeln!(out, "| part | period | played rows | first | last |\n| --- | --- | --- | --- | --- |");
    for (name, p) in [("train", &m.split.train), ("validation", &m.split.validation), ("test", &m.split.test)] {
        let _ = writeln!(out, "| {name} | {} | {} | {} | {} |", p.period, p.rows, p.first_date, p.last_date);
    }
}

/// The test metrics: scored rows, all rows, and the breakdowns.
fn test_sections(out: &mut String, m: &Manifest, breakdowns: &Breakdowns) {
    let _ = writeln!(out, "\nValidation MAE {:.4}. All numbers below are on the test period, never used for fitting or tuning.", m.validation_mae);
    let _ = writeln!(out, "\n## Scored rows\n\nTest rows with `min_avg_10 >= 15` and all three baselines defined; every predictor on exactly these rows.\n");
    metrics_table(out, &m.metrics.scored);
    let _ = writeln!(out, "\n## All rows\n\nEvery test row with the baselines defined (no minutes filter):\n");
    metrics_table(out, &m.metrics.all_with_baselines);
    let a = &m.metrics.all_rows_model;
    let _ = writeln!(
        out,
        "\nThe model on literally every test row: {} rows, MAE {:.4}, RMSE {:.4}, bias {:+.3}, median AE {:.3}.",
        a.rows, a.mae, a.rmse, a.bias, a.median_ae
    );
    let _ = writeln!(out, "\n## Breakdowns");
    breakdown_table(out, "minutes band", &breakdowns.by_minutes);
    breakdown_table(out, "role", &breakdowns.by_role);
    let _ = writeln!(out, "\nRole: starter when he started at least half of his last 5 played games.");
    breakdown_table(out, "month", &breakdowns.by_month);
}

/// The model in every game-day state, the reference and the baselines on the scored
/// rows; then the hide-share grid measured on validation.
fn game_day_section(out: &mut String, g: &GameDayEvaluation) {
    let _ = writeln!(
        out,
        "\n## Game-day states\n\nThe same scored test rows, with what is known when the prediction is asked. B and C hide the \
         request-time features (NaN); D recomputes the list features with every inactive list empty (\"nobody out\"), lineups \
         unknown; E is a model trained in the same run without any request-time feature ({} trees). The baselines read only \
         pre-game features: the same in every state.\n",
        g.reference_trees
    );
    let _ = writeln!(out, "| state | rows | MAE | RMSE | bias | median AE |\n| --- | --- | --- | --- | --- | --- |");
    let line = |out: &mut String, name: &str, m: &Metrics| {
        let _ = writeln!(out, "| {name} | {} | {:.4} | {:.4} | {:+.3} | {:.3} |", m.rows, m.mae, m.rmse, m.bias, m.median_ae);
    };
    for (state, m) in game_day::test_lines(g) {
        line(out, state, m);
    }
    for (name, m) in &g.baselines {
        line(out, &format!("baseline {name}"), m);
    }
    let (h, n) = (g.hide_shares, g.train_rows);
    let _ = writeln!(
        out,
        "\nTrained on every row as built (state A) plus copies of a share {} of the rows with the lineups hidden (B) and of a \
         share {} with lists and lineups hidden (C) ({}; per-row draws, seed {}): {} rows in state A, {} in B, {} in C. Scored test rows whose pre-game features, recomputed for D, differ \
         from the stored row: {}.\n",
        h.lineups_hidden,
        h.both_hidden,
        g.chosen_by,
        g.hide_seed,
        n.lists_and_lineups_known,
        n.lists_known_lineups_unknown,
        n.nothing_known,
        g.recomputed_pre_game_mismatches
    );
    let _ = writeln!(
        out,
        "Hide-share grid, scored validation rows (the lowest mean is chosen; the reference model's validation MAE is {:.4}, \
         to set beside column C):\n",
        g.reference_validation_mae
    );
    let _ = writeln!(out, "| lineups hidden | both hidden | trees | A | B | C | mean |\n| --- | --- | --- | --- | --- | --- | --- |");
    for c in &g.grid {
        let v = &c.validation;
        let mark = if c.shares == h { " **chosen**" } else { "" };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.4} | {:.4} | {:.4} | {:.4}{mark} |",
            c.shares.lineups_hidden, c.shares.both_hidden, c.trees, v.lists_and_lineups_known, v.lists_known_lineups_unknown, v.nothing_known, v.mean
        );
    }
}

/// The intervals and P(over): the table against the pooled percentiles on the scored
/// test rows, per state; then the table itself (validation rows per bucket).
fn calibration_section(out: &mut String, u: &Uncertainty, c: &Calibration) {
    let _ = writeln!(
        out,
        "\n## Calibrated intervals\n\np10/p90 and P(over) come from residual percentiles by `{}` bucket and game-day state, taken from the {} \
         (buckets under {} rows use the state's pooled percentiles). Measured on the {}, against the old method: one pooled \
         distribution for every row (its percentiles also from validation, state A). Synthetic line: {}.",
        u.bucket_feature, u.source, u.min_rows, c.rows, c.line_rule
    );
    for s in &c.states {
        let (t, p) = (&s.by_role, &s.pooled);
        let _ = writeln!(
            out,
            "\n### {}\n\n| bucket | rows | p10-p90 coverage | mean width | pooled: coverage | pooled: width |\n| --- | --- | --- | --- | --- | --- |",
            s.state.label()
        );
        for (b, old) in std::iter::once((&t.overall, Some(&p.overall))).chain(t.buckets.iter().map(|b| (b, p.buckets.iter().find(|x| x.bucket == b.bucket)))) {
            let (oc, ow) = old.map_or((f64::NAN, f64::NAN), |o| (o.coverage, o.mean_width));
            let _ = writeln!(out, "| {} | {} | **{:.3}** | {:.2} | {:.3} | {:.2} |", b.bucket, b.rows, b.coverage, b.mean_width, oc, ow);
        }
        let _ = writeln!(
            out,
            "\nP(over) on {} rows with a line: Brier **{:.4}** (pooled {:.4}), ECE over {} bins **{:.4}** (pooled {:.4}).\n",
            t.line_rows,
            t.brier,
            p.brier,
            t.reliability.len(),
            t.ece,
            p.ece
        );
        let _ = writeln!(
            out,
            "| predicted P(over) | rows | mean predicted | observed | pooled: rows | pooled: mean predicted | pooled: observed |\n| --- | --- | --- | --- | --- | --- | --- |"
        );
        for (b, o) in t.reliability.iter().zip(&p.reliability) {
            let _ = writeln!(
                out,
                "| {:.1}-{:.1} | {} | {:.3} | {:.3} | {} | {:.3} | {:.3} |",
                b.lo, b.hi, b.rows, b.mean_predicted, b.observed, o.rows, o.mean_predicted, o.observed
            );
        }
    }
    let _ = writeln!(out, "![P(over) reliability]({RELIABILITY_PLOT})\n");
    let _ = writeln!(out, "\nThe table (validation rows per bucket; p10 / p50 / p90 of the residual actual - predicted):\n");
    let _ = writeln!(out, "| state | bucket | rows | p10 | p50 | p90 |\n| --- | --- | --- | --- | --- | --- |");
    for s in &u.states {
        for b in std::iter::once(("pooled", s.rows, &s.pooled)).chain(s.buckets.iter().map(|b| (b.bucket.as_str(), b.rows, &b.quantiles))) {
            let (name, rows, q) = b;
            let pct = |k: usize| q.get(k).map_or_else(|| "pooled".to_string(), |v| format!("{v:+.2}"));
            let _ = writeln!(out, "| {} | {name} | {rows} | {} | {} | {} |", s.state.label(), pct(9), pct(49), pct(89));
        }
    }
}

fn walk_forward_section(out: &mut String, w: &WalkForward) {
    let _ = writeln!(
        out,
        "\n## Walk-forward\n\nEach test month predicted by a model retrained on every row before that month ({:.1} s in all; informative, not used by the gate).\n",
        w.seconds
    );
    let _ = writeln!(out, "| month | train rows | test rows | trees |\n| --- | --- | --- | --- |");
    for mo in &w.months {
        let _ = writeln!(out, "| {} | {} | {} | {} |", mo.month, mo.train_rows, mo.test_rows, mo.trees);
    }
    let _ = writeln!(out, "\nScored rows:\n");
    metrics_table(out, &w.metrics.scored);
    let _ = writeln!(
        out,
        "\nModel MAE by month (scored rows): {}",
        w.metrics.by_month.iter().map(|(k, v)| format!("{k} {:.3}", v.mae)).collect::<Vec<_>>().join(", ")
    );
}

fn plots_section(out: &mut String) {
    let _ = writeln!(out, "\n## Plots\n");
    for (p, what) in PLOTS.iter().zip(["Feature importance (gain)", "Predicted vs actual", "Residual by predicted", "MAE by month", "Validation curve"]) {
        let _ = writeln!(out, "### {what}\n\n![{what}]({p})\n");
    }
}

fn feature_gain_section(out: &mut String, m: &Manifest) {
    let _ = writeln!(out, "## Feature gain (top 15)\n\n| feature | share of gain |\n| --- | --- |");
    let total: f64 = m.feature_gain.iter().map(|g| g.gain).sum::<f64>().max(f64::MIN_POSITIVE);
    for g in m.feature_gain.iter().take(15) {
        let _ = writeln!(out, "| {} | {:.2}% |", g.feature, 100.0 * g.gain / total);
    }
}
