//! A Python with pyarrow, for tests and benchmarks that drive the server with a client
//! nobody here wrote (`pyarrow.flight`). It lives in a venv in the target folder, which CI
//! may keep between runs, so pip installs pyarrow once, not every run.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// `<target>/pyarrow-venv/bin/python`, the venv created and pyarrow installed on first
/// use (`CARGO_TARGET_DIR`, else the workspace's `target`); None when `python3` is not
/// installed, so that a caller can skip and say why.
///
/// # Panics
///
/// If creating the venv or installing pyarrow fails (no network, no `venv` module): the
/// message says which step.
pub fn pyarrow_python() -> Option<PathBuf> {
    if !Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return None;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| super::workspace_root().join("target"));
    let venv = target.join("pyarrow-venv");
    let py = venv.join("bin/python");
    // Tests run in parallel: one at a time creates the venv and installs pyarrow.
    static SETUP: Mutex<()> = Mutex::new(());
    let _one = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    if !py.exists() {
        let ok = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().is_ok_and(|s| s.success());
        assert!(ok, "nba-testkit: `python3 -m venv {}` failed", venv.display());
    }
    let have = Command::new(&py).args(["-c", "import pyarrow.flight"]).status().is_ok_and(|s| s.success());
    if !have {
        let ok = Command::new(&py).args(["-m", "pip", "install", "--quiet", "pyarrow"]).status().is_ok_and(|s| s.success());
        assert!(ok, "nba-testkit: `{} -m pip install pyarrow` failed", py.display());
    }
    Some(py)
}
