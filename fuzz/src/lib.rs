//! The fuzz targets' harness: one function per target, each pushing arbitrary input
//! through the same steps the real code takes, so that a panic, a sanitizer report, a
//! timeout or an allocation over `-rss_limit_mb` found here is a bug in the real code.
//!
//! The page parsers and the archive reader come from `nba-pages`, the server's client-input
//! decoders from `nba-api` built without its `grpc` feature: the same code the loader and
//! the server run, while tonic, tract and the ClickHouse client (most of the binaries'
//! build time) stay out of the instrumented build.

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use nba_api::decode;
use nba_pages::archive;
use nba_pages::checks::{self, GameResult};
use nba_pages::{Page, PageKind};

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
        0 => archive::InputKind::Tar,
        1 => archive::InputKind::TarGz,
        2 => archive::InputKind::TarZst,
        _ => archive::InputKind::Html,
    };
    archive::read_input(bytes, kind, "fuzz.input", &mut |item| {
        if let Ok(content) = &item.content {
            assert!(content.len() as u64 <= archive::MAX_PAGE_BYTES, "{} bytes read for {}", content.len(), item.path);
            assert!(!archive::climbs_out(&item.path), "member {:?} was not refused", item.path);
            if let Some(kind) = PageKind::of_path(&item.path) {
                let _ = nba_pages::parse_page(&kind, content);
            }
        }
        true
    });
}

/// Arbitrary bytes read as the messages of a `DoExchange` (a schema, dictionaries, record
/// batches, each an IPC header and body as in a `FlightData`), decoded with the arrow-ipc
/// calls arrow-flight's decoder makes, each batch then pushed through both exchanges'
/// decoders as the server does: the row limit first, then the `["features"]` matrix and the
/// `["requests"]` rows. The bytes are framed as an IPC stream (so pyarrow-made seeds work);
/// a body shorter than its header says is passed as it is, as a client could send it.
///
/// arrow-ipc 60 panics on some malformed messages (a buffer outside the body, a misaligned
/// offsets buffer: the crashes this target found); the server catches a panic of the decode
/// step and answers INVALID_ARGUMENT (`flight::next_batch`), and so does this harness, so
/// the fuzzer looks past them for what the server would not survive: a panic in our own
/// decoders, an abort, an allocation over the limit, a sanitizer report, a hang.
pub fn flight_batches(data: &[u8]) {
    use arrow_ipc::MessageHeader;
    let names = nba_features::feature_names();
    let mut schema: Option<std::sync::Arc<arrow_schema::Schema>> = None;
    let mut dictionaries = std::collections::HashMap::new();
    for (header, body) in IpcMessages(data) {
        let decoded = catching_panics(|| -> Result<Option<arrow_array::RecordBatch>, ()> {
            let message = arrow_ipc::root_as_message(header).map_err(drop)?;
            let buffer = arrow_buffer::Buffer::from(body);
            match message.header_type() {
                MessageHeader::Schema => {
                    schema = Some(std::sync::Arc::new(arrow_ipc::convert::try_schema_from_flatbuffer_bytes(header).map_err(drop)?));
                    dictionaries.clear();
                    Ok(None)
                }
                MessageHeader::DictionaryBatch => {
                    let (Some(s), Some(d)) = (&schema, message.header_as_dictionary_batch()) else { return Err(()) };
                    arrow_ipc::reader::read_dictionary(&buffer, d, s, &mut dictionaries, &message.version()).map_err(drop)?;
                    Ok(None)
                }
                MessageHeader::RecordBatch => {
                    let (Some(s), Some(b)) = (&schema, message.header_as_record_batch()) else { return Err(()) };
                    arrow_ipc::reader::read_record_batch(&buffer, b, s.clone(), &dictionaries, None, &message.version()).map(Some).map_err(drop)
                }
                _ => Err(()),
            }
        });
        match decoded {
            Some(Ok(Some(batch))) => check_batch(&batch, &names),
            Some(Ok(None)) => {}
            // An error or a panic ends the exchange.
            Some(Err(())) | None => return,
        }
    }
}

/// Runs `f`, turning a panic into None, quietly: libFuzzer's panic hook (which aborts, to
/// report the panic as a crash) is set aside meanwhile.
fn catching_panics<T>(f: impl FnOnce() -> T) -> Option<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok();
    std::panic::set_hook(hook);
    result
}

/// One decoded batch through the server's checks and decoders.
fn check_batch(b: &arrow_array::RecordBatch, names: &[String]) {
    if b.num_rows() > MAX_FLIGHT_BATCH {
        return;
    }
    if let Ok(cols) = decode::FeatureColumns::of(b, names) {
        let values = cols.values();
        assert_eq!(values.len(), names.len());
        for c in &values {
            assert_eq!(c.len(), b.num_rows());
            assert!(c.iter().all(|v| !v.is_infinite()));
        }
    }
    if let Ok(columns) = decode::RequestColumns::read(b) {
        assert_eq!(columns.len(), b.num_rows());
        for i in 0..columns.len() {
            let _ = columns.row(i);
        }
    }
}

/// (header, body) pairs of an IPC stream: an optional continuation marker, the header's
/// length, the header, then its body (cut short at the end of the input).
struct IpcMessages<'a>(&'a [u8]);

impl<'a> Iterator for IpcMessages<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let mut rest = self.0;
        if rest.starts_with(&[0xff; 4]) {
            rest = &rest[4..];
        }
        let len = usize::try_from(i32::from_le_bytes(rest.get(..4)?.try_into().ok()?)).ok().filter(|l| *l > 0)?;
        let header = rest.get(4..4 + len)?;
        let body_len = arrow_ipc::root_as_message(header).ok().and_then(|m| usize::try_from(m.bodyLength()).ok()).unwrap_or(0);
        let rest = &rest[4 + len..];
        let (body, rest) = rest.split_at(body_len.min(rest.len()));
        self.0 = rest;
        Some((header, body))
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
    /// `[n, N_FEATURES]`
    Rows(i64),
    /// `[N_FEATURES]`
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
