-- Data-quality findings per month, check and severity (from the checks run while
-- parsing and the schedule cross-checks).
SELECT
    toStartOfMonth(game_date) AS month,
    check_name,
    severity,
    count() AS findings,
    uniqExact(game_id) AS games
FROM data_quality_issues FINAL
GROUP BY month, check_name, severity
ORDER BY month DESC, findings DESC
