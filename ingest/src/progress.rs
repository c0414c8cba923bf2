//! Operator feedback while loading: an indicatif bar on a terminal (pages, MB/s of HTML,
//! ETA from input bytes read), plain log lines every few seconds otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Progress {
    bar: Option<ProgressBar>,
    consumed: Arc<AtomicU64>,
    started: Instant,
    pages: AtomicU64,
    html_bytes: AtomicU64,
    last_log: std::sync::Mutex<Instant>,
}

impl Progress {
    /// `enabled`: the caller wants a bar; it is drawn only when stderr is a terminal.
    pub fn new(enabled: bool, total_input_bytes: u64, consumed: Arc<AtomicU64>) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total_input_bytes), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% ETA {eta} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            consumed,
            started: Instant::now(),
            pages: AtomicU64::new(0),
            html_bytes: AtomicU64::new(0),
            last_log: std::sync::Mutex::new(Instant::now()),
        }
    }

    /// One page handled.
    pub fn page(&self, bytes: u64) {
        let pages = self.pages.fetch_add(1, Ordering::Relaxed) + 1;
        let html = self.html_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let msg = format!("{pages} pages, {:.0} MB/s of HTML", html as f64 / 1e6 / secs);
        match &self.bar {
            Some(bar) => {
                bar.set_position(self.consumed.load(Ordering::Relaxed));
                if pages.is_multiple_of(16) {
                    bar.set_message(msg);
                }
            }
            None => {
                let Ok(mut last) = self.last_log.lock() else {
                    return;
                };
                if last.elapsed() >= Duration::from_secs(10) {
                    *last = Instant::now();
                    tracing::info!("{msg}");
                }
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A bar over backfill chunks (hidden when not on a terminal or not wanted).
pub fn chunk_bar(enabled: bool, chunks: u64) -> ProgressBar {
    if !(enabled && std::io::stderr().is_terminal()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(chunks), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("backfill [{elapsed_precise}] {wide_bar} {pos}/{len} chunks ETA {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
