//! The end-of-run summary printed by `load`.

use crate::load::LoadSummary;
use std::fmt::Write;

pub fn render(s: &LoadSummary, dry_run: bool) -> String {
    let mut out = String::new();
    let secs = s.elapsed.as_secs_f64().max(1e-6);
    let _ = writeln!(out, "{}load summary", if dry_run { "dry-run " } else { "" });
    let _ = writeln!(
        out,
        "  files: {} seen, {} loaded ({} box scores, {} schedule pages), {} unchanged, {} rejected",
        s.files_seen,
        s.loaded,
        s.box_scores,
        s.schedule_pages,
        s.unchanged,
        s.rejected.len()
    );
    let _ = writeln!(
        out,
        "  time: {:.1} s, {:.0} pages/s, {:.0} MB/s of HTML ({:.1} MB), {:.0} rows/s",
        secs,
        s.files_seen as f64 / secs,
        s.html_bytes as f64 / 1e6 / secs,
        s.html_bytes as f64 / 1e6,
        s.rows_total() as f64 / secs
    );
    if !s.rows.is_empty() {
        let _ = writeln!(out, "  rows written:");
        for (table, n) in &s.rows {
            let _ = writeln!(out, "    {table:<22} {n:>9}");
        }
    }
    if !s.quality.is_empty() {
        let _ = writeln!(out, "  data-quality warnings (table data_quality_issues):");
        for (check, n) in &s.quality {
            let _ = writeln!(out, "    {check:<28} {n:>6}");
        }
    }
    if !s.rejected.is_empty() {
        let _ = writeln!(out, "  rejected files (recorded in ingest_files; rerun after fixing):");
        for r in s.rejected.iter().take(50) {
            let _ = writeln!(out, "    {}: {}", r.source, r.reason);
        }
        if s.rejected.len() > 50 {
            let _ = writeln!(out, "    ... and {} more", s.rejected.len() - 50);
        }
    }
    out
}
