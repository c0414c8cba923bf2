-- Graded predictions against the market, last 30 graded days per model version, source, slate run and edge bucket: model MAE beside the line's MAE on the same rows, hit rates beside 52.4%, ROI at the stored prices, closing-line value
-- Only graded rows that had a line count here (`lined`): `model_mae` and `line_mae` are
-- both measured on exactly those rows (the line taken as a prediction), never the model
-- on every player against the line on the players that have one. `roi`: summed return
-- of a unit stake at the stored decimal price per priced call (pushes refunded, calls on
-- a client's line without prices left out). `clv_mean`: closing line - line for OVER,
-- line - closing for UNDER (positive: the market moved toward the call by tip-off).
-- From `grade_summaries` (`nba-ingest grade`), weighted by each day's counts. Window: the
-- 30 days up to the newest graded day.
SELECT
    model_version,
    source,
    run,
    edge_bucket,
    n_lined AS lined,
    round(model_abs_sum / n_lined, 3) AS model_mae,
    round(line_abs_sum / n_lined, 3) AS line_mae,
    round(over_hits_sum / (n_over - over_push_sum), 3) AS over_hit_rate,
    round(under_hits_sum / (n_under - under_push_sum), 3) AS under_hit_rate,
    0.524 AS break_even,
    n_priced AS priced_calls,
    round(profit_sum, 3) AS profit,
    round(profit_sum / n_priced, 4) AS roi,
    n_clv AS clv_calls,
    round(clv_sum / n_clv, 3) AS clv_mean,
    n_toward AS clv_toward,
    n_away AS clv_away
FROM
(
    SELECT
        model_version,
        source,
        run,
        edge_bucket,
        sum(lined) AS n_lined,
        sumIf(lined_mae * lined, lined > 0) AS model_abs_sum,
        sumIf(line_mae * lined, lined > 0) AS line_abs_sum,
        sum(over_calls) AS n_over,
        sum(over_hits) AS over_hits_sum,
        sum(over_pushes) AS over_push_sum,
        sum(under_calls) AS n_under,
        sum(under_hits) AS under_hits_sum,
        sum(under_pushes) AS under_push_sum,
        sum(priced_calls) AS n_priced,
        sum(profit) AS profit_sum,
        sum(clv_calls) AS n_clv,
        sumIf(clv_mean * clv_calls, clv_calls > 0) AS clv_sum,
        sum(clv_toward) AS n_toward,
        sum(clv_away) AS n_away
    FROM grade_summaries FINAL
    WHERE game_date > (SELECT max(game_date) FROM grade_summaries) - 30
    GROUP BY model_version, source, run, edge_bucket
)
WHERE n_lined > 0
ORDER BY model_version, source, run, edge_bucket
