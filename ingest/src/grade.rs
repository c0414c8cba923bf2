//! `nba-ingest grade`: served predictions against what happened.
//!
//! For each game date and model version: the latest prediction per player (a client may
//! ask several times before tip-off), joined with the player's box score once the game
//! is loaded and built. Writes `prediction_grades` (replacing earlier grades of the same
//! day and version), so the `model_drift` monitoring query shows a model's live MAE next
//! to its test MAE. A prediction for a player who did not play, or whose game is not
//! loaded yet, counts in `predictions` but not in `graded`.

use chrono::NaiveDate;
use nba_store::Store;
use nba_store::rows::PredictionGradeRow;

/// Grades the predictions of game dates `from..=to`; returns the rows written.
pub async fn grade(store: &Store, from: NaiveDate, to: NaiveDate) -> anyhow::Result<Vec<PredictionGradeRow>> {
    // One JOIN (ClickHouse 18.16 and 24.x alike). The right side marks a known result
    // with `known = 1`; unmatched rows get the default 0.
    let sql = "SELECT game_date, model_version, toUInt64(count()) AS predictions, toUInt64(sum(known)) AS graded, \
                      if(graded = 0, nan, sumIf(abs(pred - pts), known = 1) / graded) AS mae, \
                      if(graded = 0, nan, sqrt(sumIf((pred - pts) * (pred - pts), known = 1) / graded)) AS rmse, \
                      if(graded = 0, nan, sumIf(pred - pts, known = 1) / graded) AS bias, \
                      now() AS graded_at \
               FROM ( \
                   SELECT player_id, game_date, model_version, toFloat64(argMax(predicted_pts, predicted_at)) AS pred \
                   FROM predictions WHERE game_date BETWEEN toDate(?) AND toDate(?) \
                   GROUP BY player_id, game_date, model_version \
               ) ANY LEFT JOIN ( \
                   SELECT player_id, game_date, toFloat64(pts) AS pts, toUInt8(1) AS known \
                   FROM player_game_summary FINAL WHERE status = 'Played' AND game_date BETWEEN toDate(?) AND toDate(?) \
               ) USING (player_id, game_date) \
               GROUP BY game_date, model_version ORDER BY game_date, model_version";
    let (f, t) = (from.to_string(), to.to_string());
    let rows: Vec<PredictionGradeRow> = store.retry("grade predictions", || store.client().query(sql).bind(&f).bind(&t).bind(&f).bind(&t).fetch_all()).await?;
    if !rows.is_empty() {
        store.insert(&rows).await?;
    }
    Ok(rows)
}

/// A table of the grades for people.
pub fn render(rows: &[PredictionGradeRow]) -> String {
    let mut out = format!("{:<12} {:<32} {:>11} {:>7} {:>7} {:>7} {:>7}\n", "game_date", "model_version", "predictions", "graded", "MAE", "RMSE", "bias");
    for r in rows {
        out.push_str(&format!(
            "{:<12} {:<32} {:>11} {:>7} {:>7.3} {:>7.3} {:>+7.3}\n",
            r.game_date.to_string(),
            r.model_version,
            r.predictions,
            r.graded,
            r.mae,
            r.rmse,
            r.bias
        ));
    }
    out
}
