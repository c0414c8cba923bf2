//! The fuzz targets' harness: one function per target, each pushing arbitrary input
//! through the same steps the real code takes, so that a panic, a sanitizer report, a
//! timeout or an allocation over `-rss_limit_mb` found here is a bug in the real code.
//!
//! The loader's archive reader (`ingest/src/load/source.rs`) and the server's client-input
//! decoders (`server/src/decode.rs`) are compiled here from their own source files with
//! `#[path]`: both are self-contained on purpose, and this keeps tonic, tract and the
//! ClickHouse client (most of the two crates' build time) out of the instrumented build.
//! The page parsers come from `nba-pages` itself.

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use nba_pages::checks::{self, GameResult};
use nba_pages::{Page, PageKind};

#[allow(dead_code)]
#[path = "../../ingest/src/load/source.rs"]
pub mod source;

#[path = "../../server/src/decode.rs"]
pub mod decode;

/// `nba-server`'s default `--max-flight-batch`: larger batches are refused before decoding
/// their columns.
pub const MAX_FLIGHT_BATCH: usize = 1_000_000;

/// `nba-server`'s default `--max-batch` (rows per `ModelInfer`).
pub const MAX_V2_ROWS: usize = 10_000;

/// A box-score page, parsed and checked as the loader does (`load::parse_item`). The file
/// name is fixed: the parser checks the page's own links against it, and the seeds are
/// excerpts of that game's page.
pub fn box_score(data: &[u8]) {
    let kind = PageKind::BoxScore("202310240DEN".into());
    if let Ok(Page::BoxScore(game)) = nba_pages::parse_page(&kind, data) {
        assert_eq!(game.game_id, "202310240DEN");
        let _ = checks::check_box_score(&game);
        let result = GameResult::from(&*game);
        let _ = checks::check_against_schedule(&result, &result);
    }
}

/// A schedule page, parsed as the loader does, each row cross-checked as against a box
/// score.
pub fn schedule(data: &[u8]) {
    let kind = PageKind::Schedule("NBA_2023_games-june.html".into());
    if let Ok(Page::Schedule(s)) = nba_pages::parse_page(&kind, data) {
        for g in &s.games {
            let row = GameResult::from(g);
            let _ = checks::check_against_schedule(&row, &row);
        }
    }
}

/// An input file as `load` reads it: the first byte picks how (`.tar`, `.tar.gz`,
/// `.tar.zst` or a bare `.html` page), the rest is the file. Every member read whole is
/// classified by name and parsed, as the loader's workers do.
pub fn archive(data: &[u8]) {
    let Some((&how, bytes)) = data.split_first() else { return };
    let kind = match how % 4 {
        0 => source::InputKind::Tar,
        1 => source::InputKind::TarGz,
        2 => source::InputKind::TarZst,
        _ => source::InputKind::Html,
    };
    source::read_input(bytes, kind, "fuzz.input", &mut |item| {
        if let Ok(content) = &item.content {
            assert!(content.len() as u64 <= source::MAX_PAGE_BYTES, "{} bytes read for {}", content.len(), item.path);
            assert!(!source::climbs_out(&item.path), "member {:?} was not refused", item.path);
            if let Some(kind) = PageKind::of_path(&item.path) {
                let _ = nba_pages::parse_page(&kind, content);
            }
        }
        true
    });
}

/// Arbitrary bytes read as an Arrow IPC stream (what a `DoExchange` client's messages
/// carry: a schema, dictionaries, record batches), each batch pushed through both
/// exchanges' decoders as the server does: the row limit first, then the `["features"]`
/// matrix and the `["requests"]` rows.
pub fn flight_batches(data: &[u8]) {
    let Ok(reader) = arrow_ipc::reader::StreamReader::try_new(data, None) else { return };
    let names = nba_features::feature_names();
    for batch in reader {
        let Ok(b) = batch else { return };
        if b.num_rows() > MAX_FLIGHT_BATCH {
            continue;
        }
        if let Ok(x) = decode::feature_matrix(&b, &names) {
            assert_eq!(x.len(), b.num_rows() * names.len());
            assert!(x.iter().all(|v| !v.is_infinite()));
        }
        if let Ok(columns) = decode::RequestColumns::read(&b) {
            assert_eq!(columns.len(), b.num_rows());
            for i in 0..columns.len() {
                let _ = columns.row(i);
            }
        }
    }
}

/// A V2 `ModelInfer` input tensor's parts, generated with a bias towards the valid shape
/// so that the size checks are reached.
#[derive(Debug, Arbitrary)]
pub struct V2Input {
    datatype: Datatype,
    shape: Shape,
    raw: Option<Vec<u8>>,
    fp32: Vec<f32>,
}

#[derive(Debug, Arbitrary)]
enum Datatype {
    Fp32,
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum Shape {
    /// `[n, 65]`
    Rows(i64),
    /// `[65]`
    One,
    Any(Vec<i64>),
}

/// A V2 input tensor through the server's decoder.
pub fn v2_tensor(input: &V2Input) {
    let w = nba_features::N_FEATURES as i64;
    let shape = match &input.shape {
        Shape::Rows(n) => vec![*n, w],
        Shape::One => vec![w],
        Shape::Any(s) => s.clone(),
    };
    let datatype = match &input.datatype {
        Datatype::Fp32 => "FP32",
        Datatype::Other(s) => s.as_str(),
    };
    let t = decode::TensorInput { datatype, shape: &shape, raw: input.raw.as_deref(), fp32: &input.fp32 };
    if let Ok(t) = decode::tensor(t, MAX_V2_ROWS) {
        assert!((1..=MAX_V2_ROWS).contains(&t.rows));
        assert_eq!(t.data.len(), t.rows * nba_features::N_FEATURES);
        assert_eq!(t.raw, input.raw.is_some());
    }
}
