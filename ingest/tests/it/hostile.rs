//! The bad-input corpus (`ingest/tests/hostile/`, see its README for each file's expected
//! outcome) loaded in one run with good pages: every hostile input gets its documented
//! outcome, and the good pages are loaded exactly as when loaded alone.

use crate::util::*;
use nba_ingest::load;
use std::path::{Path, PathBuf};

fn hostile_dir() -> PathBuf {
    nba_testkit::workspace_root().join("ingest/tests/hostile")
}

/// Real pages that must come through intact: two regular-season games, a Finals game and
/// its schedule page.
fn good_pages() -> Vec<PathBuf> {
    ["scores/202310240DEN.html", "scores/202310250SAS.html", "scores/202306120DEN.html", "standings/NBA_2023_games-june.html"].map(fixture).to_vec()
}

/// Per-game figures of every table, to compare the good games between two loads.
async fn fingerprint(store: &nba_store::Store, ids: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for sql in [
        format!("SELECT count() FROM player_boxscores WHERE game_id IN ({ids})"),
        format!("SELECT toUInt64(sum(pts) * 1000 + sum(seconds) + sum(reb) * 7 + sum(ast) * 13) FROM player_boxscores WHERE game_id IN ({ids})"),
        format!("SELECT count() FROM team_boxscores WHERE game_id IN ({ids})"),
        format!("SELECT count() FROM game_inactives WHERE game_id IN ({ids})"),
        format!("SELECT count() FROM games WHERE game_id IN ({ids})"),
        "SELECT count() FROM games WHERE source_file = 'standings/NBA_2023_games-june.html'".to_string(),
    ] {
        out.push(scalar(store, &sql).await);
    }
    out
}

/// The hostile inputs too big to keep in the repository, made from the corpus' valid
/// synthetic page (`accepted/202311150BOS.html`).
fn generated(dir: &Path) {
    let page = std::fs::read_to_string(hostile_dir().join("accepted/202311150BOS.html")).unwrap();
    let as_game = |id: &str| page.replace("202311150BOS", id);
    let write = |rel: &str, body: &str| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    };
    // Over the 16 MiB page limit.
    let padding = |n: usize| format!("<!-- {} -->", "x".repeat(n));
    write("huge/202311030BOS.html", &as_game("202311030BOS").replace("</body>", &format!("{}</body>", padding(16 << 20))));
    // Just under it: loaded.
    write("big/202311040BOS.html", &as_game("202311040BOS").replace("</body>", &format!("{}</body>", padding(15 << 20))));
    // An inactive line of 100,000 unclosed <strong> and 100,000 unmatched end tags, read in
    // linear time: loaded, with no inactive entries beyond the real one.
    let line = format!("{}{}", "<strong>x ".repeat(100_000), "</b>y ".repeat(100_000));
    write("pathological/202311240BOS.html", &as_game("202311240BOS").replacen(" None </div>", &format!(" None {line}</div>"), 1));
    // 200,000 distinct team table ids, also read in linear time: rejected, the message short.
    let ids: String = (0..200_000u32).map(|i| format!("<table id=\"box-{}-game-basic\"></table>", base62(i))).collect();
    write("pathological/202311250BOS.html", &as_game("202311250BOS").replace("</body>", &format!("{ids}</body>")));
}

fn base62(mut i: u32) -> String {
    let digits = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..3)
        .map(|_| {
            let c = digits[(i % 62) as usize] as char;
            i /= 62;
            c
        })
        .collect()
}

#[tokio::test]
async fn hostile_corpus_gets_its_documented_outcomes_and_good_pages_load_intact() {
    // The good pages alone: the reference.
    let alone = fresh_store("hostile_ref").await;
    let good = good_pages();
    let good_refs: Vec<&Path> = good.iter().map(PathBuf::as_path).collect();
    let reference = load::load(Some(&alone), &opts(&good_refs)).await.unwrap();
    assert!(reference.rejected.is_empty(), "{:?}", reference.rejected);
    let good_ids = "'202310240DEN', '202310250SAS', '202306120DEN'";
    let expected = fingerprint(&alone, good_ids).await;

    // Everything together: good pages, the corpus, the generated inputs.
    let store = fresh_store("hostile").await;
    let tmp = tempfile::tempdir().unwrap();
    generated(tmp.path());
    let hostile = hostile_dir();
    let mut paths = good_refs.clone();
    paths.extend([hostile.as_path(), tmp.path()]);
    let started = std::time::Instant::now();
    let s = load::load(Some(&store), &opts(&paths)).await.unwrap();
    let elapsed = started.elapsed();

    // Rejected, each with the file and the reason (README: "rejected").
    let rejected: &[(&str, &str)] = &[
        ("truncated/202311010BOS.html", "expected the tables of 2 teams, found [\"PHI\"]"),
        ("huge/202311030BOS.html", "larger than 16 MiB"),
        ("pathological/202311250BOS.html", "expected the tables of 2 teams, found [\"PHI\", \"BOS\", \"000\", \"100\"] and 1999"),
        ("encoding/latin1/202311050BOS.html", "not valid UTF-8 (first bad byte at offset 12503)"),
        ("encoding/utf16/202311060BOS.html", "not valid UTF-8 (first bad byte at offset 0)"),
        ("encoding/invalid-utf8/202311080BOS.html", "not valid UTF-8"),
        ("duplicated-player/202311100BOS.html", "player phipl01 is listed twice"),
        ("negative-minutes/202311110BOS.html", "column \"mp\" holds \"-36:00\", not a MM:SS playing time"),
        ("900-points/202311120BOS.html", "900 points, more than the record 100"),
        ("overflow/202311130BOS.html", "column \"ast\" holds \"70000\""),
        ("made-over-attempted/202311140BOS.html", "ft 9 is more than fta 2"),
        ("future/203001150BOS.html", "after today"),
        ("names/202302300BOS.html", "is neither a box-score page"),
        ("wrong-game/202311190BOS.html", "page is for game 202311200BOS"),
        ("not-html/202311210BOS.html", "not an HTML page"),
        ("empty/202311220BOS.html", "the file is empty"),
        ("traversal.tar:../../etc/202311160BOS.html", "climbs out of the archive"),
        ("traversal.tar:/etc/passwd", "climbs out of the archive"),
        ("traversal.tar:scores/202311230BOS.html", "member is a symbolic link to \"/etc/passwd\", not a regular file"),
        ("archives/empty.tar.gz", "unreadable archive after 0 members"),
        ("archives/gzip-named-zst.tar.zst", "unreadable archive after 0 members"),
    ];
    for (file, reason) in rejected {
        let r = s.rejected.iter().find(|r| r.source.ends_with(file)).unwrap_or_else(|| panic!("{file} not rejected: {:#?}", s.rejected));
        assert!(r.reason.contains(reason), "{file}: {}", r.reason);
        assert!(r.reason.len() < 500, "{file}: a reason of {} bytes", r.reason.len());
    }
    assert_eq!(s.rejected.len(), rejected.len(), "nothing else rejected: {:#?}", s.rejected);
    // ...and in the ledger, with the reason.
    assert_eq!(scalar(&store, "SELECT count() FROM ingest_files WHERE status = 'rejected' AND reason != '' AND source != ''").await, rejected.len() as u64);

    // Accepted: the good pages, the valid synthetic pages (README: "loaded").
    assert_eq!((s.box_scores, s.schedule_pages), (3 + 7, 2), "{s:#?}");
    for id in ["202311150BOS", "202311020BOS", "202311070BOS", "202311090BOS", "202311170BOS", "202311040BOS", "202311240BOS"] {
        assert_eq!(scalar(&store, &format!("SELECT count() FROM player_boxscores WHERE game_id = '{id}'")).await, 14, "{id}");
        assert_eq!(scalar(&store, &format!("SELECT count() FROM team_boxscores WHERE game_id = '{id}'")).await, 2, "{id}");
    }
    // The duplicated tables: the first copy is read (the second says 99 points).
    assert_eq!(scalar(&store, "SELECT toUInt64(max(pts)) FROM player_boxscores WHERE game_id = '202311090BOS'").await, 12);
    // The pathological inactive line still gives the one real entry.
    assert_eq!(scalar(&store, "SELECT count() FROM game_inactives WHERE game_id = '202311240BOS'").await, 1);
    // The schedule contradicting 202311150BOS: loaded, the disagreement flagged (README:
    // "accepted with findings"); 202311170BOS agrees with it, no finding.
    let findings = "SELECT count() FROM data_quality_issues WHERE game_id = '202311150BOS' AND check_name IN ('schedule_final_score', 'schedule_teams')";
    assert_eq!(scalar(&store, findings).await, 2);
    assert_eq!(scalar(&store, "SELECT count() FROM data_quality_issues WHERE game_id != '202311150BOS'").await, 0);
    // The box score is kept as the page says: PHI 66 at BOS 72.
    assert_eq!(scalar(&store, "SELECT toUInt64(sum(pts)) FROM team_boxscores WHERE game_id = '202311150BOS' AND team = 'PHI'").await, 66);

    // Nothing else lost: the good games are exactly as when loaded alone.
    assert_eq!(fingerprint(&store, good_ids).await, expected);
    // Linear-time parsing takes a few seconds here; quadratic parsing of the pathological
    // pages would take minutes (the bound is generous for a loaded machine; the figure is
    // in docs/reliability.md).
    assert!(elapsed < std::time::Duration::from_secs(120), "{elapsed:?}");
    eprintln!("hostile corpus: {} files, {} rejected, loaded in {elapsed:?}", s.files_seen, s.rejected.len());
}
