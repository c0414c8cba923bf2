//! A private replicated ClickHouse a test owns: ZooKeeper and two ClickHouse 18.16
//! replicas of one shard (`scripts/clickhouse_cluster.sh`), on free loopback ports with
//! everything in a fresh folder. Tests kill a replica with SIGKILL and start it again;
//! dropping the handle kills the servers, stops ZooKeeper and removes the folder (kept,
//! for its logs, when the test failed).
//!
//! Like the rest of the crate this runs scripts and `kill`, and needs no dependency.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The cluster's name in the servers' `remote_servers`: what `--cluster` takes.
pub const CLUSTER_NAME: &str = "nba_cluster";

/// ZooKeeper and two ClickHouse replicas (replica 0 and 1 here; `replica1` and `replica2`
/// in the script's folders and macros).
pub struct ClickHouseCluster {
    dir: PathBuf,
    /// ZooKeeper, then HTTP, native and interserver port of each replica.
    ports: [u16; 7],
    urls: [String; 2],
}

impl ClickHouseCluster {
    /// Starts the cluster in a fresh folder named after `name`. Panics with the script's
    /// stderr if it cannot start (ZooKeeper is installed on first use, as the script does).
    pub fn start(name: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir =
            std::env::temp_dir().join(format!("nba-ch-cluster-{}-{}-{}", super::sanitise(name), std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
        let mut last_error = String::new();
        // Ports the kernel just handed out are free now; the script refuses (rather than
        // shares) one another process took in between, so retry with new ones.
        for _ in 0..5 {
            let _ = std::fs::remove_dir_all(&dir);
            let ports: [u16; 7] = std::array::from_fn(|_| free_port());
            let mut unique = ports.to_vec();
            unique.sort_unstable();
            unique.dedup();
            if unique.len() != ports.len() {
                continue;
            }
            let mut cluster = ClickHouseCluster { dir: dir.clone(), ports, urls: Default::default() };
            match cluster.run_start() {
                Ok(urls) => {
                    cluster.urls = urls;
                    return cluster;
                }
                Err(e) => {
                    last_error = e;
                    let _ = cluster.script("stop").output();
                }
            }
        }
        panic!("nba-testkit: could not start a ClickHouse cluster in {}: {last_error}", dir.display())
    }

    /// The value of `--cluster`.
    pub fn name(&self) -> &'static str {
        CLUSTER_NAME
    }

    /// HTTP URL of replica `i` (0 or 1).
    pub fn url(&self, i: usize) -> &str {
        &self.urls[i]
    }

    /// The folder with ZooKeeper's and both replicas' files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// PID of replica `i`, from its pid file.
    pub fn pid(&self, i: usize) -> Option<u32> {
        std::fs::read_to_string(self.dir.join(format!("replica{}/clickhouse.pid", i + 1))).ok()?.trim().parse().ok()
    }

    /// True if replica `i` accepts connections on its HTTP port.
    pub fn is_up(&self, i: usize) -> bool {
        TcpStream::connect_timeout(&([127, 0, 0, 1], self.ports[1 + 3 * i]).into(), Duration::from_millis(200)).is_ok()
    }

    /// Whether each replica is up, and the last lines of its error log and console
    /// output: what a failed assertion prints, since CI keeps no folders.
    pub fn report(&self) -> String {
        let mut out = String::new();
        for i in 0..2 {
            let d = self.dir.join(format!("replica{}", i + 1));
            let state = if self.is_up(i) { "up" } else { "DOWN" };
            out.push_str(&format!("--- replica {i} ({}): {state}, pid {:?}\n", self.urls[i], self.pid(i)));
            for file in ["server.out", "log/clickhouse-server.err.log"] {
                let text = std::fs::read_to_string(d.join(file)).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                for line in &lines[lines.len().saturating_sub(25)..] {
                    out.push_str(&format!("replica {i} {file}: {line}\n"));
                }
            }
        }
        out
    }

    /// SIGKILL replica `i`, as a crash or an OOM kill would; returns once its port is
    /// closed. Panics if it is not running.
    pub fn kill(&self, i: usize) {
        let pid = self.pid(i).unwrap_or_else(|| panic!("no pid file for replica {i} in {}", self.dir.display()));
        let status = Command::new("kill").args(["-KILL", &pid.to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -KILL {pid} failed: {status}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.is_up(i) {
            assert!(Instant::now() < deadline, "replica {i} (pid {pid}) still answers 30 s after SIGKILL");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts whatever is down again (a killed replica), on the same ports and data.
    pub fn restart(&self) {
        let urls = self.run_start().unwrap_or_else(|e| panic!("nba-testkit: restarting the ClickHouse cluster failed: {e}"));
        assert_eq!(urls, self.urls, "restarted on other URLs");
    }

    fn script(&self, command: &str) -> Command {
        let mut c = Command::new("bash");
        let ports: Vec<String> = self.ports.iter().map(u16::to_string).collect();
        c.arg(super::workspace_root().join("scripts/clickhouse_cluster.sh"))
            .arg(command)
            .arg(&self.dir)
            .env("CLICKHOUSE_CLUSTER_NAME", CLUSTER_NAME)
            .env("CLICKHOUSE_CLUSTER_PORTS", ports.join(" "));
        c
    }

    fn run_start(&self) -> Result<[String; 2], String> {
        let out = self.script("start").output().map_err(|e| format!("running clickhouse_cluster.sh: {e}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!("clickhouse_cluster.sh start failed ({}):\n{stderr}", out.status));
        }
        let urls: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::trim).filter(|l| l.starts_with("http://")).map(str::to_owned).collect();
        <[String; 2]>::try_from(urls).map_err(|got| format!("clickhouse_cluster.sh start printed {got:?}, not two URLs; stderr:\n{stderr}"))
    }
}

impl Drop for ClickHouseCluster {
    fn drop(&mut self) {
        // SIGKILL the replicas (their data is thrown away; a failed test must not wait for
        // two shutdowns), then the script's stop for ZooKeeper.
        for i in 0..2 {
            if let Some(pid) = self.pid(i).filter(|_| self.is_up(i)) {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
        }
        let _ = self.script("stop").output();
        // A failed test leaves the folder for its servers' logs.
        if std::thread::panicking() {
            eprintln!("nba-testkit: the cluster's files and logs are kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("bind an ephemeral port")
}
