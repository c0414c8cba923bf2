-- Backfill progress: chunks finished per backfill, the range covered so far, and when
-- the last chunk finished.
SELECT
    backfill_id,
    count() AS chunks_done,
    min(chunk_from) AS first_day,
    max(chunk_to) AS done_through,
    sum(files_loaded) AS files_loaded,
    sum(feature_rows) AS feature_rows,
    countIf(validation_passed = 0) AS chunks_failing_validation,
    max(finished_at) AS last_chunk_at
FROM backfill_checkpoints FINAL
GROUP BY backfill_id
ORDER BY last_chunk_at DESC
