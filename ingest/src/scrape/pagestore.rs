//! The raw page store that `scrape` writes and `load` reads: the archives' layout
//! (`scores/<game_id>.html`, `standings/NBA_<season>_games-<month>.html`), plus a sidecar
//! per page under `.meta/` with what the next conditional request needs.
//!
//! Every write is atomic (temp file in the same folder, fsync, rename, fsync of the
//! folder), so a crash or a kill never leaves a half-written page that `load` would read.
//! Temp files are named `.<name>.tmp-*`: `load` ignores them (not `.html`), and the next
//! scrape removes any a crash left behind.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What we know about a stored page from the response that brought it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PageMeta {
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// When the page was stored (or last confirmed unchanged by a 304).
    pub fetched_at: chrono::DateTime<chrono::Utc>,
}

pub struct PageStore {
    root: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl PageStore {
    /// Opens (creating if needed) the store folder and removes temp files a crashed run
    /// left behind.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        for sub in ["scores", "standings", ".meta/scores", ".meta/standings"] {
            std::fs::create_dir_all(root.join(sub)).map_err(|e| anyhow::anyhow!("cannot create the page store folder {}: {e}", root.join(sub).display()))?;
        }
        let store = PageStore { root: root.to_path_buf() };
        for sub in ["scores", "standings", ".meta/scores", ".meta/standings"] {
            if let Ok(rd) = std::fs::read_dir(root.join(sub)) {
                for e in rd.flatten() {
                    if e.file_name().to_string_lossy().contains(".tmp-") {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `rel` is a ledger name such as `scores/202306120DEN.html`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn meta_path(&self, rel: &str) -> PathBuf {
        self.root.join(".meta").join(format!("{rel}.json"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).is_file()
    }

    pub fn read(&self, rel: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.path(rel))
    }

    /// The sidecar, or one made up from the file's mtime for a page that came from
    /// elsewhere (e.g. an unpacked archive).
    pub fn meta(&self, rel: &str) -> Option<PageMeta> {
        if let Some(m) = std::fs::read(self.meta_path(rel)).ok().and_then(|b| serde_json::from_slice(&b).ok()) {
            return Some(m);
        }
        let mtime = std::fs::metadata(self.path(rel)).ok()?.modified().ok()?;
        Some(PageMeta { fetched_at: mtime.into(), ..PageMeta::default() })
    }

    /// Stores a page and then its sidecar, each atomically. The page goes first: a crash
    /// between the two leaves a page without fresh validators, which only costs a full
    /// refetch later.
    pub fn put(&self, rel: &str, body: &[u8], meta: &PageMeta) -> anyhow::Result<()> {
        write_atomic(&self.path(rel), body)?;
        self.put_meta(rel, meta)
    }

    pub fn put_meta(&self, rel: &str, meta: &PageMeta) -> anyhow::Result<()> {
        write_atomic(&self.meta_path(rel), &serde_json::to_vec_pretty(meta)?)
    }
}

/// Temp file in the target's folder (so the rename cannot cross file systems), fsync,
/// rename over the target, fsync the folder so the rename itself survives a power cut.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = target.parent().ok_or_else(|| anyhow::anyhow!("{} has no parent folder", target.display()))?;
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}-{}", std::process::id(), TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, target)?;
        // Best effort: not every file system lets a folder be opened for fsync.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        anyhow::bail!("writing {}: {e}", target.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_is_atomic_and_leaves_no_temp_files() {
        let dir = std::env::temp_dir().join(format!("nba-pagestore-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // A temp file from a "crashed" run is cleaned up on open.
        std::fs::create_dir_all(dir.join("scores")).unwrap();
        std::fs::write(dir.join("scores/.x.html.tmp-1-1"), b"half").unwrap();
        let store = PageStore::open(&dir).unwrap();
        assert!(!dir.join("scores/.x.html.tmp-1-1").exists());
        let meta = PageMeta { url: "u".into(), etag: Some("\"e\"".into()), last_modified: None, fetched_at: chrono::Utc::now() };
        store.put("scores/202306120DEN.html", b"<html>one</html>", &meta).unwrap();
        store.put("scores/202306120DEN.html", b"<html>two</html>", &meta).unwrap();
        assert_eq!(store.read("scores/202306120DEN.html").unwrap(), b"<html>two</html>");
        assert_eq!(store.meta("scores/202306120DEN.html").unwrap(), meta);
        let names: Vec<String> = std::fs::read_dir(dir.join("scores")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names, vec!["202306120DEN.html".to_string()]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
