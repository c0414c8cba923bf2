//! Input files as `nba-ingest load` reads them: season archives (`.tar.zst`, `.tar.gz`,
//! `.tar`, streamed, never unpacked to disk), folders (walked for pages and archives) and
//! single `.html` files. Each yields [`SourceItem`]s in a stable order; a member that
//! cannot be read becomes an item carrying the error, so the ledger records it and the run
//! goes on.
//!
//! It lives beside the parsers, not in `nba-ingest`, so that the `archive` fuzz target
//! reads files exactly as `load` does without building the loader's ClickHouse client.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Largest page accepted; real box scores are under 0.6 MB. Guards memory against a
/// hostile archive member.
pub const MAX_PAGE_BYTES: u64 = 16 * 1024 * 1024;

/// One file to load: a page, or a failure to read one.
#[derive(Debug)]
pub struct SourceItem {
    /// The member or file name as found (e.g. `scores/201710170CLE.html`).
    pub path: String,
    /// Where it came from: the archive or folder, for the ledger and messages.
    pub source: String,
    pub content: Result<Vec<u8>, String>,
}

/// What kind of input a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    TarZst,
    TarGz,
    Tar,
    Html,
}

pub fn input_kind(path: &Path) -> Option<InputKind> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    if name.ends_with(".tar.zst") || name.ends_with(".tzst") {
        Some(InputKind::TarZst)
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        Some(InputKind::TarGz)
    } else if name.ends_with(".tar") {
        Some(InputKind::Tar)
    } else if name.ends_with(".html") || name.ends_with(".htm") {
        Some(InputKind::Html)
    } else {
        None
    }
}

/// The files `load` will read, expanded from the command line, with their sizes on disk
/// (the progress bar's total).
#[derive(Debug, Default)]
pub struct Inputs {
    pub files: Vec<(PathBuf, u64)>,
    /// Paths that could not be used at all (missing, unreadable folder): reported and
    /// counted as rejected.
    pub errors: Vec<(String, String)>,
}

impl Inputs {
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|(_, s)| s).sum()
    }
}

/// Expands command-line paths: folders are walked (sorted, so runs are repeatable) for
/// archives and pages; other files in folders are ignored.
pub fn expand(paths: &[PathBuf]) -> Inputs {
    let mut inputs = Inputs::default();
    for p in paths {
        match std::fs::metadata(p) {
            Err(e) => inputs.errors.push((p.display().to_string(), format!("cannot read: {e}"))),
            Ok(m) if m.is_dir() => walk(p, &mut inputs),
            Ok(m) => {
                if input_kind(p).is_some() {
                    inputs.files.push((p.clone(), m.len()));
                } else {
                    inputs.errors.push((p.display().to_string(), "not a page (.html) or an archive (.tar.zst, .tar.gz, .tar)".to_string()));
                }
            }
        }
    }
    inputs
}

fn walk(dir: &Path, inputs: &mut Inputs) {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            inputs.errors.push((dir.display().to_string(), format!("cannot list folder: {e}")));
            return;
        }
    };
    entries.sort();
    for p in entries {
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => walk(&p, inputs),
            Ok(m) if input_kind(&p).is_some() => inputs.files.push((p, m.len())),
            Ok(_) => {}
            Err(e) => inputs.errors.push((p.display().to_string(), format!("cannot read: {e}"))),
        }
    }
}

/// Counts bytes read from the underlying file, for progress and MB/s.
struct Counting<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads every input in order and hands each item to `sink`; stops early when `sink`
/// returns false (the consumer has gone). `consumed` counts input bytes read from disk.
pub fn read_all(inputs: &Inputs, consumed: &Arc<AtomicU64>, mut sink: impl FnMut(SourceItem) -> bool) {
    for (path, _) in &inputs.files {
        let source = path.display().to_string();
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                if !sink(SourceItem { path: source.clone(), source, content: Err(format!("cannot open: {e}")) }) {
                    return;
                }
                continue;
            }
        };
        let reader = BufReader::with_capacity(1 << 20, Counting { inner: file, counter: consumed.clone() });
        let keep_going = match input_kind(path) {
            Some(kind) => read_input(reader, kind, &source, &mut sink),
            None => true,
        };
        if !keep_going {
            return;
        }
    }
}

/// Reads one input of `kind` (a page or an archive) from `reader`, handing each item to
/// `sink`; false when `sink` asked to stop. `source` names the input in items and messages.
/// Public for the fuzz targets, which feed it arbitrary bytes.
pub fn read_input(reader: impl BufRead, kind: InputKind, source: &str, sink: &mut impl FnMut(SourceItem) -> bool) -> bool {
    match kind {
        InputKind::Html => {
            let content = read_limited(reader, source);
            sink(SourceItem { path: source.to_string(), source: source.to_string(), content })
        }
        InputKind::TarZst => match zstd::stream::read::Decoder::with_buffer(reader) {
            Ok(mut d) => {
                // The archives use a 2^27 window, the decoder's default limit; allow
                // a little more so a re-compressed archive is not refused.
                let _ = d.window_log_max(31);
                read_tar(d, source, sink)
            }
            Err(e) => sink(SourceItem { path: source.to_string(), source: source.to_string(), content: Err(format!("not a zstd stream: {e}")) }),
        },
        InputKind::TarGz => read_tar(flate2::read::GzDecoder::new(reader), source, sink),
        InputKind::Tar => read_tar(reader, source, sink),
    }
}

fn read_limited(reader: impl Read, what: &str) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    match reader.take(MAX_PAGE_BYTES + 1).read_to_end(&mut buf) {
        Ok(_) if buf.len() as u64 > MAX_PAGE_BYTES => Err(format!("{what} is larger than {} MiB; not a page", MAX_PAGE_BYTES >> 20)),
        Ok(_) => Ok(buf),
        Err(e) => Err(format!("read failed: {e}")),
    }
}

/// Streams a tar archive's regular files. A broken archive yields one error item naming
/// how far it got; members read before the break are kept.
fn read_tar(reader: impl Read, source: &str, sink: &mut impl FnMut(SourceItem) -> bool) -> bool {
    let mut archive = tar::Archive::new(reader);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => {
            return sink(SourceItem { path: source.to_string(), source: source.to_string(), content: Err(format!("unreadable archive: {e}")) });
        }
    };
    let mut members = 0usize;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                return sink(SourceItem {
                    path: source.to_string(),
                    source: source.to_string(),
                    content: Err(format!("unreadable archive after {members} members: {e}")),
                });
            }
        };
        members += 1;
        let path = match entry.path() {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(e) => format!("<member {members}: bad name: {e}>"),
        };
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            // Folders are no pages; a link or a device named like one is reported, as
            // skipping it would lose a page without a word (the link is never followed).
            let what = if kind.is_symlink() {
                "a symbolic link"
            } else if kind.is_hard_link() {
                "a hard link"
            } else if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
                "a device or pipe"
            } else {
                continue;
            };
            let target = entry.link_name().ok().flatten().map(|l| format!(" to {:?}", l.to_string_lossy())).unwrap_or_default();
            let content = Err(format!("member is {what}{target}, not a regular file; refused"));
            if !sink(SourceItem { path, source: source.to_string(), content }) {
                return false;
            }
            continue;
        }
        let size = entry.header().size().unwrap_or(0);
        let content = if climbs_out(&path) {
            // Nothing is ever unpacked to disk, but such a name is no page of a season
            // archive: refuse it rather than load it under the name its last part gives.
            Err(format!("member name {path:?} is absolute or climbs out of the archive with \"..\"; refused"))
        } else if size > MAX_PAGE_BYTES {
            Err(format!("member is {size} bytes, larger than {} MiB; not a page", MAX_PAGE_BYTES >> 20))
        } else {
            // A cut archive ends a member early without an I/O error: compare with the
            // size the header promised.
            read_limited(&mut entry, &path)
                .and_then(|b| if b.len() as u64 == size { Ok(b) } else { Err(format!("archive member truncated: {} of {size} bytes", b.len())) })
        };
        if !sink(SourceItem { path, source: source.to_string(), content }) {
            return false;
        }
    }
    true
}

/// An absolute member name (`/etc/x`, `C:\\x`, `\\\\host\\x`) or one with a `..` part, with
/// either slash.
pub fn climbs_out(name: &str) -> bool {
    let b = name.as_bytes();
    b.first().is_some_and(|c| *c == b'/' || *c == b'\\')
        || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
        || name.split(['/', '\\']).any(|part| part == "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_name() {
        assert_eq!(input_kind(Path::new("a/bbref_2024.tar.zst")), Some(InputKind::TarZst));
        assert_eq!(input_kind(Path::new("s.tar.gz")), Some(InputKind::TarGz));
        assert_eq!(input_kind(Path::new("x.tar")), Some(InputKind::Tar));
        assert_eq!(input_kind(Path::new("201710170CLE.html")), Some(InputKind::Html));
        assert_eq!(input_kind(Path::new("SOURCE.md")), None);
    }

    #[test]
    fn member_names_that_climb_out_are_refused() {
        for bad in ["../../etc/x", "/etc/passwd", "scores/../../202310240DEN.html", "..", "..\\x.html", "\\\\host\\x", "C:\\x.html"] {
            assert!(climbs_out(bad), "{bad}");
        }
        for good in ["scores/202310240DEN.html", "standings/NBA_2024_games-june.html", "a..b/c.html", "./scores/x.html"] {
            assert!(!climbs_out(good), "{good}");
        }
        // A traversal name is an item carrying the reason; the members around it load.
        let mut tar = Vec::new();
        for name in ["scores/a.html", "../../scores/202310240DEN.html", "scores/b.html"] {
            let mut h = tar::Header::new_gnu();
            // Written into the header directly: the tar crate's builder refuses such names.
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_size(2);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            tar.extend_from_slice(h.as_bytes());
            tar.extend_from_slice(b"xy");
            tar.resize(tar.len().div_ceil(512) * 512, 0);
        }
        tar.resize(tar.len() + 1024, 0);
        let mut items = Vec::new();
        assert!(read_input(tar.as_slice(), InputKind::Tar, "t.tar", &mut |i| {
            items.push(i);
            true
        }));
        let got: Vec<_> = items.iter().map(|i| (i.path.as_str(), i.content.as_ref().map(Vec::len).map_err(String::as_str))).collect();
        assert_eq!(got[0], ("scores/a.html", Ok(2)));
        assert_eq!(got[1].0, "../../scores/202310240DEN.html");
        assert!(got[1].1.is_err_and(|e| e.contains("climbs out of the archive")), "{got:?}");
        assert_eq!(got[2], ("scores/b.html", Ok(2)));
    }

    #[test]
    fn folders_are_walked_in_order_and_junk_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("scores")).unwrap();
        std::fs::write(dir.path().join("scores/b.html"), "b").unwrap();
        std::fs::write(dir.path().join("scores/a.html"), "a").unwrap();
        std::fs::write(dir.path().join("notes.md"), "x").unwrap();
        let inputs = expand(&[dir.path().to_path_buf(), dir.path().join("missing.html")]);
        let names: Vec<_> = inputs.files.iter().map(|(p, _)| p.file_name().unwrap().to_str().unwrap().to_string()).collect();
        assert_eq!(names, ["a.html", "b.html"]);
        assert_eq!(inputs.errors.len(), 1);
        assert!(inputs.errors[0].1.contains("cannot read"));
    }

    #[test]
    fn truncated_archive_keeps_members_read_before_the_break() {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        for name in ["scores/a.html", "scores/b.html"] {
            let body = vec![b'x'; 3000];
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            builder.append_data(&mut h, name, body.as_slice()).unwrap();
        }
        let bytes = builder.into_inner().unwrap();
        // Cut inside the second member's data.
        let cut = &bytes[..512 + 3072 + 512 + 1000];
        let path = dir.path().join("t.tar");
        std::fs::write(&path, cut).unwrap();
        let inputs = expand(&[path]);
        let mut items = Vec::new();
        read_all(&inputs, &Arc::new(AtomicU64::new(0)), |i| {
            items.push(i);
            true
        });
        let summary: Vec<_> = items.iter().map(|i| (i.path.clone(), i.content.as_ref().map(Vec::len))).collect();
        assert_eq!(items.len(), 3, "{summary:?}");
        assert_eq!(summary[0], ("scores/a.html".to_string(), Ok(3000)));
        // The cut member is reported with what is wrong, not loaded as a short page...
        assert_eq!(summary[1].0, "scores/b.html");
        assert!(summary[1].1.as_ref().is_err_and(|e| e.contains("truncated: 1000 of 3000")), "{summary:?}");
        // ...and the archive itself as unreadable from there on.
        assert!(summary[2].1.as_ref().is_err_and(|e| e.contains("unreadable archive after 2 members")), "{summary:?}");
    }
}
