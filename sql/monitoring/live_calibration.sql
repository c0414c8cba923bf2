-- Live accuracy of the last 7 graded days per model version, source and slate run: p10-p90 coverage beside 0.80, MAE beside the model's test MAE
-- From `grade_summaries` (`nba-ingest grade`), weighted by graded predictions; the test
-- MAE is the model registry's (the manifest's). Window: the 7 days up to the newest
-- graded day.
SELECT
    model_version,
    source,
    run,
    days,
    graded_rows AS graded,
    live_coverage,
    0.8 AS nominal_coverage,
    live_mae,
    if(registry_mae > 0, round(registry_mae, 3), nan) AS test_mae,
    if(registry_mae > 0, round(live_mae / registry_mae, 3), nan) AS mae_ratio,
    live_bias,
    live_within_3,
    live_within_5
FROM
(
    SELECT
        model_version,
        source,
        run,
        uniqExact(game_date) AS days,
        sum(graded) AS graded_rows,
        round(sum(coverage * graded) / graded_rows, 4) AS live_coverage,
        round(sum(mae * graded) / graded_rows, 3) AS live_mae,
        round(sum(bias * graded) / graded_rows, 3) AS live_bias,
        round(sum(within_3 * graded) / graded_rows, 3) AS live_within_3,
        round(sum(within_5 * graded) / graded_rows, 3) AS live_within_5
    FROM grade_summaries FINAL
    WHERE edge_bucket = 'all' AND graded > 0 AND game_date > (SELECT max(game_date) FROM grade_summaries) - 7
    GROUP BY model_version, source, run
) AS live
ANY LEFT JOIN
(
    SELECT version AS model_version, any(test_mae) AS registry_mae FROM model_registry GROUP BY version
) AS registry
USING (model_version)
ORDER BY model_version, source, run
