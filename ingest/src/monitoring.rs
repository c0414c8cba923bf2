//! Monitoring for operators: `query` runs the monitoring queries of `sql/monitoring`
//! (embedded in the binary), `status` prints one screen to read every morning.

use anyhow::Context;
use nba_store::Store;

/// The monitoring queries: name and SQL.
pub const QUERIES: &[(&str, &str)] = &[
    ("pipeline_health", include_str!("../../sql/monitoring/pipeline_health.sql")),
    ("validation_status", include_str!("../../sql/monitoring/validation_status.sql")),
    ("failing_checks", include_str!("../../sql/monitoring/failing_checks.sql")),
    ("backfill_progress", include_str!("../../sql/monitoring/backfill_progress.sql")),
    ("data_quality", include_str!("../../sql/monitoring/data_quality.sql")),
    ("ingest_runs", include_str!("../../sql/monitoring/ingest_runs.sql")),
    ("model_drift", include_str!("../../sql/monitoring/model_drift.sql")),
    ("live_calibration", include_str!("../../sql/monitoring/live_calibration.sql")),
    ("call_hit_rate", include_str!("../../sql/monitoring/call_hit_rate.sql")),
    ("market", include_str!("../../sql/monitoring/market.sql")),
];

/// The SQL of the monitoring query called `name`.
pub fn query_sql(name: &str) -> Option<&'static str> {
    QUERIES.iter().find(|(n, _)| *n == name).map(|(_, sql)| *sql)
}

/// Runs SQL and returns the server's rendering in `format` (e.g. PrettyCompact).
pub async fn run_formatted(store: &Store, sql: &str, format: &str) -> anyhow::Result<String> {
    // The files end without a FORMAT clause; comments and trailing semicolons are fine.
    let sql = sql.trim().trim_end_matches(';');
    let sql = format!("{sql}\nFORMAT {format}");
    let mut cursor = store.client().query(&sql).fetch_bytes(format).context("starting the query")?;
    let bytes = cursor.collect().await.with_context(|| format!("running:\n{sql}"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `status`: pipeline health, latest load/build/validation, open findings.
pub async fn status(store: &Store) -> anyhow::Result<String> {
    let mut out = String::new();
    out.push_str(&format!("database {} at {}\n\n", store.database(), store.url()));
    out.push_str("per season\n");
    out.push_str(&run_formatted(store, query_sql("pipeline_health").unwrap_or_default(), "PrettyCompactNoEscapes").await?);
    let lines: &[(&str, &str)] = &[
        (
            "last load",
            "SELECT concat(toString(max(seen_at)), ' UTC: ', toString(countIf(status = 'loaded')), ' loaded, ', toString(countIf(status = 'rejected')), ' rejected') FROM ingest_files WHERE run_id = (SELECT argMax(run_id, seen_at) FROM ingest_files)",
        ),
        (
            "last build",
            "SELECT concat(toString(max(finished_at)), ' UTC: ', argMax(mode, finished_at), ', ', toString(argMax(feature_rows, finished_at)), ' feature rows') FROM build_runs",
        ),
        (
            "last validation",
            "SELECT concat(toString(max(started_at)), ' UTC: ', if(argMax(passed, started_at) = 1, 'passed', 'FAILED'), ', ', toString(argMax(critical_failures, started_at)), ' critical, ', toString(argMax(warnings, started_at)), ' warnings') FROM validation_runs",
        ),
        (
            "open data-quality findings",
            "SELECT concat(toString(countIf(severity = 'error')), ' errors, ', toString(countIf(severity = 'warning')), ' warnings, in ', toString(uniqExact(game_id)), ' games') FROM data_quality_issues FINAL",
        ),
        ("freshest game", "SELECT concat(toString(max(game_date)), ' (', argMax(game_id, game_date), ')') FROM team_boxscores"),
    ];
    out.push('\n');
    for (label, sql) in lines {
        let value = run_formatted(store, sql, "TSVRaw").await?;
        let value = value.trim();
        let value = if value.starts_with("0000-00-00") || value.starts_with("1970-01-01") || value.is_empty() { "never" } else { value };
        out.push_str(&format!("{label:<28} {value}\n"));
    }
    let failing = run_formatted(store, query_sql("failing_checks").unwrap_or_default(), "PrettyCompactNoEscapes").await?;
    if !failing.trim().is_empty() {
        out.push_str("\nfailing checks of the last validation\n");
        out.push_str(&failing);
    }
    Ok(out)
}
