//! A private ClickHouse server that a test owns and may kill: fault tests SIGKILL the
//! database in the middle of a command and restart it, which must never touch the shared
//! test server other test binaries (and other people) are using.
//!
//! The server is `scripts/clickhouse.sh` on two free loopback ports with its data in a
//! fresh folder under the system temp dir; dropping the handle stops it and removes the
//! folder. Everything goes through the script and the `kill` command, so this module,
//! like the rest of the crate, needs no dependency (and no `unsafe` for signals).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A ClickHouse server of the test's own, on its own ports and data folder.
pub struct PrivateClickHouse {
    dir: PathBuf,
    http_port: u16,
    tcp_port: u16,
    url: String,
}

impl PrivateClickHouse {
    /// Starts a server named after `name` (for the folder). Panics with the script's
    /// stderr if it cannot start.
    pub fn start(name: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir =
            std::env::temp_dir().join(format!("nba-private-ch-{}-{}-{}", super::sanitise(name), std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&dir);
        // Two ports the kernel just handed out: free now, and the script refuses (rather
        // than sharing) if another process took one in between, so retry a few times.
        let mut last_error = String::new();
        for _ in 0..5 {
            let (http_port, tcp_port) = (free_port(), free_port());
            if http_port == tcp_port {
                continue;
            }
            let mut server = PrivateClickHouse { dir: dir.clone(), http_port, tcp_port, url: String::new() };
            match server.run_start() {
                Ok(url) => {
                    server.url = url;
                    return server;
                }
                Err(e) => last_error = e,
            }
        }
        panic!("nba-testkit: could not start a private ClickHouse in {}: {last_error}", dir.display())
    }

    /// Its HTTP URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The folder holding its config, data and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's PID, from the script's pid file.
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.join("clickhouse.pid")).ok()?.trim().parse().ok()
    }

    /// True if the server accepts connections on its HTTP port.
    pub fn is_up(&self) -> bool {
        TcpStream::connect_timeout(&([127, 0, 0, 1], self.http_port).into(), Duration::from_millis(200)).is_ok()
    }

    /// SIGKILL: no shutdown, no flush, as a crash or an OOM kill would. Returns once the
    /// port no longer answers. Panics if there is no server to kill.
    pub fn kill(&self) {
        let pid = self.pid().unwrap_or_else(|| panic!("no pid file in {}", self.dir.display()));
        let status = Command::new("kill").args(["-KILL", &pid.to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -KILL {pid} failed: {status}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.is_up() {
            assert!(Instant::now() < deadline, "ClickHouse pid {pid} still answers 30 s after SIGKILL");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again on the same ports and data (after [`Self::kill`]).
    pub fn restart(&self) {
        let url = self.run_start().unwrap_or_else(|e| panic!("nba-testkit: restarting the private ClickHouse failed: {e}"));
        assert_eq!(url, self.url, "restarted on another URL");
    }

    fn script(&self, command: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg(super::workspace_root().join("scripts/clickhouse.sh"))
            .arg(command)
            .arg(&self.dir)
            .env("CLICKHOUSE_HTTP_PORT", self.http_port.to_string())
            .env("CLICKHOUSE_TCP_PORT", self.tcp_port.to_string());
        c
    }

    fn run_start(&self) -> Result<String, String> {
        let out = self.script("start").output().map_err(|e| format!("running clickhouse.sh: {e}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!("clickhouse.sh start failed ({}):\n{stderr}", out.status));
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .rfind(|l| l.starts_with("http://"))
            .map(str::to_owned)
            .ok_or_else(|| format!("clickhouse.sh start printed no URL; stderr:\n{stderr}"))
    }
}

impl Drop for PrivateClickHouse {
    fn drop(&mut self) {
        // SIGKILL rather than the script's graceful stop: the data is thrown away anyway,
        // and a test that failed mid-way must not wait 20 s for a shutdown.
        if let Some(pid) = self.pid().filter(|_| self.is_up()) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
        let _ = self.script("stop").output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("bind an ephemeral port")
}
