-- Daily validation status: the last result of each day for the last 30 days with runs,
-- and how many critical and warning checks failed.
SELECT
    toDate(started_at) AS day,
    argMax(passed, started_at) AS passed,
    argMax(critical_failures, started_at) AS critical_failures,
    argMax(warnings, started_at) AS warnings,
    argMax(from_date, started_at) AS from_date,
    argMax(to_date, started_at) AS to_date,
    count() AS runs
FROM validation_runs
GROUP BY day
ORDER BY day DESC
LIMIT 30
