-- Recent load runs from the ledger: files seen, loaded, unchanged and rejected, rows
-- written, and when the run ended.
SELECT
    run_id,
    count() AS files,
    countIf(status = 'loaded') AS loaded,
    countIf(status = 'unchanged') AS unchanged,
    countIf(status = 'rejected') AS rejected,
    sum(rows_written) AS rows_written,
    max(seen_at) AS finished_at
FROM ingest_files
GROUP BY run_id
ORDER BY finished_at DESC
LIMIT 20
