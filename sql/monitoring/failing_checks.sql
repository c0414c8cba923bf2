-- The checks that failed in the latest validation run, worst first.
SELECT check_name, severity, value, threshold, message
FROM validation_results
WHERE run_id = (SELECT argMax(run_id, started_at) FROM validation_runs)
  AND passed = 0
ORDER BY severity = 'critical' DESC, severity = 'warning' DESC, check_name
