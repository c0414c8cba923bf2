//! What a `load` run did: the counts, rows written, findings and rejected files, returned
//! to callers and printed at the end of the run.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// A rejected file and why.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub name: String,
    pub source: String,
    pub reason: String,
}

/// What a run did, printed at the end and returned to callers and tests.
#[derive(Debug, Default, Clone)]
pub struct LoadSummary {
    pub files_seen: u64,
    pub loaded: u64,
    pub unchanged: u64,
    pub rejected: Vec<Rejection>,
    /// Rows written per table.
    pub rows: BTreeMap<&'static str, u64>,
    /// Data-quality findings per check name.
    pub quality: BTreeMap<String, u64>,
    /// Uncompressed page bytes handled, and input bytes read from disk.
    pub html_bytes: u64,
    pub input_bytes: u64,
    pub elapsed: Duration,
    pub box_scores: u64,
    pub schedule_pages: u64,
    /// Pages outside the requested dates.
    pub skipped: u64,
}

impl LoadSummary {
    pub fn rows_total(&self) -> u64 {
        self.rows.values().sum()
    }

    /// The end-of-run summary for people; `dry_run` marks a run that wrote nothing.
    pub fn render(&self, dry_run: bool) -> String {
        let mut out = String::new();
        let secs = self.elapsed.as_secs_f64().max(1e-6);
        let _ = writeln!(out, "{}load summary", if dry_run { "dry-run " } else { "" });
        let _ = writeln!(
            out,
            "  files: {} seen, {} loaded ({} box scores, {} schedule pages), {} unchanged, {} rejected",
            self.files_seen,
            self.loaded,
            self.box_scores,
            self.schedule_pages,
            self.unchanged,
            self.rejected.len()
        );
        let _ = writeln!(
            out,
            "  time: {:.1} s, {:.0} pages/s, {:.0} MB/s of HTML ({:.1} MB), {:.0} rows/s",
            secs,
            self.files_seen as f64 / secs,
            self.html_bytes as f64 / 1e6 / secs,
            self.html_bytes as f64 / 1e6,
            self.rows_total() as f64 / secs
        );
        if !self.rows.is_empty() {
            let _ = writeln!(out, "  rows written:");
            for (table, n) in &self.rows {
                let _ = writeln!(out, "    {table:<22} {n:>9}");
            }
        }
        if !self.quality.is_empty() {
            let _ = writeln!(out, "  data-quality warnings (table data_quality_issues):");
            for (check, n) in &self.quality {
                let _ = writeln!(out, "    {check:<28} {n:>6}");
            }
        }
        if !self.rejected.is_empty() {
            let _ = writeln!(out, "  rejected files (recorded in ingest_files; rerun after fixing):");
            for r in self.rejected.iter().take(50) {
                let _ = writeln!(out, "    {}: {}", r.source, r.reason);
            }
            if self.rejected.len() > 50 {
                let _ = writeln!(out, "    ... and {} more", self.rejected.len() - 50);
            }
        }
        out
    }
}
