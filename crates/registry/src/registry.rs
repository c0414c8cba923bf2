//! The model registry on disk:
//!
//! ```text
//! <root>/models/<version>/model.onnx
//! <root>/models/<version>/manifest.json
//! <root>/current            {"version": ..., "history": [earlier current versions]}
//! ```
//!
//! A version is written into `<root>/models/.tmp-<version>-<pid>` and renamed into place
//! when complete, so a crashed run leaves no half-written version (only a dot-folder that
//! `list` ignores). `current` is replaced by writing a temporary file and renaming it.

use crate::RegistryError;
use crate::manifest::Manifest;
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

pub const MODEL_FILE: &str = "model.onnx";
pub const MANIFEST_FILE: &str = "manifest.json";

/// The promoted version and the versions promoted before it (most recent last).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Current {
    pub version: String,
    pub history: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Registry {
    root: PathBuf,
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError {
    let path = path.display().to_string();
    move |source| RegistryError::Io { what, path, source }
}

fn valid_version(v: &str) -> Result<(), RegistryError> {
    if v.is_empty() || v.starts_with('.') || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.') {
        return Err(RegistryError::InvalidVersion(v.to_string()));
    }
    Ok(())
}

impl Registry {
    pub fn new(root: impl Into<PathBuf>) -> Registry {
        Registry { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn models(&self) -> PathBuf {
        self.root.join("models")
    }

    pub fn version_dir(&self, version: &str) -> PathBuf {
        self.models().join(version)
    }

    /// Writes a complete version atomically (temp folder, then rename).
    pub fn write_version(&self, manifest: &Manifest, onnx: &[u8]) -> Result<PathBuf, RegistryError> {
        self.write_version_with(manifest, onnx, &[])
    }

    /// Like [`Registry::write_version`], with extra files (the report and its plots) written
    /// into the same folder before the rename. Names are plain file names.
    pub fn write_version_with(&self, manifest: &Manifest, onnx: &[u8], extra: &[(String, Vec<u8>)]) -> Result<PathBuf, RegistryError> {
        valid_version(&manifest.version)?;
        for (name, _) in extra {
            if valid_version(name).is_err() || name == MODEL_FILE || name == MANIFEST_FILE {
                return Err(RegistryError::InvalidVersion(format!("extra file name {name}")));
            }
        }
        let models = self.models();
        fs::create_dir_all(&models).map_err(io("creating", &models))?;
        let dest = self.version_dir(&manifest.version);
        if dest.exists() {
            return Err(RegistryError::Exists(manifest.version.clone()));
        }
        let tmp = models.join(format!(".tmp-{}-{}", manifest.version, std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir(&tmp).map_err(io("creating", &tmp))?;
        let result = (|| {
            let json = serde_json::to_vec_pretty(manifest).map_err(|source| RegistryError::Json { path: dest.display().to_string(), source })?;
            let files = [(MODEL_FILE, onnx), (MANIFEST_FILE, &json[..])].into_iter().chain(extra.iter().map(|(n, b)| (n.as_str(), &b[..])));
            for (name, bytes) in files {
                let p = tmp.join(name);
                fs::write(&p, bytes).map_err(io("writing", &p))?;
                fs::File::open(&p).and_then(|f| f.sync_all()).map_err(io("syncing", &p))?;
            }
            fs::rename(&tmp, &dest).map_err(io("renaming into", &dest))
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result.map(|()| dest)
    }

    /// Complete versions, sorted by name (names start with a UTC timestamp).
    pub fn list(&self) -> Result<Vec<String>, RegistryError> {
        let models = self.models();
        if !models.exists() {
            return Ok(vec![]);
        }
        let mut out = vec![];
        for e in fs::read_dir(&models).map_err(io("reading", &models))? {
            let e = e.map_err(io("reading", &models))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && e.path().join(MANIFEST_FILE).is_file() && e.path().join(MODEL_FILE).is_file() {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    pub fn manifest(&self, version: &str) -> Result<Manifest, RegistryError> {
        valid_version(version)?;
        let p = self.version_dir(version).join(MANIFEST_FILE);
        let bytes = fs::read(&p).map_err(io("reading", &p))?;
        serde_json::from_slice(&bytes).map_err(|source| RegistryError::Json { path: p.display().to_string(), source })
    }

    pub fn model_bytes(&self, version: &str) -> Result<Vec<u8>, RegistryError> {
        valid_version(version)?;
        let p = self.version_dir(version).join(MODEL_FILE);
        fs::read(&p).map_err(io("reading", &p))
    }

    pub fn current(&self) -> Result<Option<Current>, RegistryError> {
        let p = self.root.join("current");
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|source| RegistryError::Json { path: p.display().to_string(), source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("reading", &p)(e)),
        }
    }

    fn write_current(&self, c: &Current) -> Result<(), RegistryError> {
        fs::create_dir_all(&self.root).map_err(io("creating", &self.root))?;
        let p = self.root.join("current");
        let tmp = self.root.join(format!(".current.tmp-{}", std::process::id()));
        let json = serde_json::to_vec_pretty(c).map_err(|source| RegistryError::Json { path: p.display().to_string(), source })?;
        fs::write(&tmp, json).map_err(io("writing", &tmp))?;
        fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io("syncing", &tmp))?;
        fs::rename(&tmp, &p).map_err(io("renaming into", &p))
    }

    /// Makes `version` current (it must exist and have a readable manifest and model).
    pub fn promote(&self, version: &str) -> Result<Current, RegistryError> {
        self.manifest(version)?;
        self.model_bytes(version)?;
        let mut c = self.current()?.unwrap_or_default();
        if c.version == version {
            return Ok(c);
        }
        if !c.version.is_empty() {
            let prev = std::mem::take(&mut c.version);
            c.history.push(prev);
        }
        c.version = version.to_string();
        self.write_current(&c)?;
        Ok(c)
    }

    /// Makes the previously current version current again.
    pub fn rollback(&self) -> Result<Current, RegistryError> {
        let mut c = self.current()?.ok_or_else(|| RegistryError::Pointer("no current model to roll back".into()))?;
        let prev = c.history.pop().ok_or_else(|| RegistryError::Pointer(format!("{} is the only model ever promoted: nothing to roll back to", c.version)))?;
        self.manifest(&prev)?;
        c.version = prev;
        self.write_current(&c)?;
        Ok(c)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::manifest::{BaselineComparison, Evaluation, HyperParams, Metrics, PartInfo, SplitInfo};

    pub(crate) fn manifest(version: &str) -> Manifest {
        let m = Metrics::of(&[1.0], &[2.0]);
        let r = BaselineComparison { model: m, baselines: Default::default() };
        let part = PartInfo { period: "2024".into(), rows: 1, first_date: String::new(), last_date: String::new() };
        Manifest {
            version: version.into(),
            created_at: String::new(),
            source_commit: None,
            database: "db".into(),
            split: SplitInfo { train: part.clone(), validation: part.clone(), test: part, as_of: None },
            feature_names: vec![],
            feature_version: 1,
            contract_hash: String::new(),
            hyper_parameters: HyperParams {
                objective: String::new(),
                iterations: 1,
                learning_rate: 0.1,
                max_depth: 1,
                max_leaves: 1,
                l1: 0.0,
                l2: 0.0,
                gamma: 0.0,
                min_leaf_weight: 0.0,
                nbins: 2,
                subsample: 1.0,
                colsample_bytree: 1.0,
                early_stopping_rounds: 1,
                early_stopping_metric: String::new(),
                seed: 0,
                threads: 1,
                trees_used: 1,
                trees_grown: 1,
                base_score: 0.0,
                refit_on_validation: false,
                bag: 1,
                bag_trees: vec![],
            },
            validation_mae: 1.0,
            metrics: Evaluation {
                scored: r.clone(),
                all_with_baselines: r,
                all_rows_model: m,
                by_minutes: Default::default(),
                by_role: Default::default(),
                by_month: Default::default(),
            },
            training_seconds: 0.0,
            model_sha256: String::new(),
            onnx_max_abs_diff: 0.0,
            canaries: vec![],
            residual_quantiles: vec![],
            feature_gain: vec![],
            walk_forward: None,
            game_day: None,
            uncertainty: None,
            calibration: None,
        }
    }

    #[test]
    fn versions_are_atomic_and_pointer_moves() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::new(dir.path());
        assert!(reg.list().unwrap().is_empty());
        assert_eq!(reg.current().unwrap(), None);
        // A crashed run's temp folder is not a version.
        std::fs::create_dir_all(dir.path().join("models/.tmp-v0-1")).unwrap();
        std::fs::write(dir.path().join("models/.tmp-v0-1/model.onnx"), b"half").unwrap();
        // Neither is a folder without its manifest.
        std::fs::create_dir_all(dir.path().join("models/v9")).unwrap();
        reg.write_version(&manifest("v1"), b"one").unwrap();
        reg.write_version_with(&manifest("v2"), b"two", &[("report.md".into(), b"# r".to_vec())]).unwrap();
        assert_eq!(std::fs::read(reg.version_dir("v2").join("report.md")).unwrap(), b"# r");
        assert!(reg.write_version_with(&manifest("v5"), b"x", &[("../x.md".into(), vec![])]).is_err());
        assert!(reg.write_version_with(&manifest("v5"), b"x", &[(MODEL_FILE.into(), vec![])]).is_err());
        assert_eq!(reg.list().unwrap(), vec!["v1", "v2"]);
        assert!(reg.write_version(&manifest("v1"), b"again").is_err(), "versions are immutable");
        assert_eq!(reg.model_bytes("v1").unwrap(), b"one");
        assert!(reg.write_version(&manifest("../x"), b"x").is_err());
        assert!(reg.manifest("../x").is_err());

        assert!(reg.rollback().is_err());
        assert!(reg.promote("v3").is_err());
        assert_eq!(reg.promote("v1").unwrap().version, "v1");
        assert!(reg.rollback().is_err(), "nothing before v1");
        assert_eq!(reg.promote("v2").unwrap(), Current { version: "v2".into(), history: vec!["v1".into()] });
        assert_eq!(reg.rollback().unwrap(), Current { version: "v1".into(), history: vec![] });
        assert_eq!(reg.current().unwrap().unwrap().version, "v1");
        // No temporary pointer file is left behind.
        let stray: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().starts_with(".current")).collect();
        assert!(stray.is_empty());
    }
}
