-- Live error of served models: daily MAE per model version (from `nba-ingest grade`) beside the model's test MAE
SELECT
    game_date,
    model_version,
    graded,
    round(mae, 3) AS live_mae,
    round(bias, 3) AS live_bias,
    round(test_mae, 3) AS test_mae,
    round(mae - test_mae, 3) AS drift
FROM (SELECT game_date, model_version, graded, mae, bias FROM prediction_grades FINAL WHERE graded > 0 AND game_date >= today() - 60) AS live
ANY LEFT JOIN (SELECT version AS model_version, any(test_mae) AS test_mae FROM model_registry GROUP BY version) AS registry
USING (model_version)
ORDER BY game_date DESC, model_version
LIMIT 200
