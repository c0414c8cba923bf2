//! Arrow Flight on the gRPC port: columnar batch scoring and daily slates.
//!
//! - `DoExchange` with descriptor path `["requests"]`: batches of `player_id`, `game_date`,
//!   `opponent`, `is_home` (optional `line`, `team`, the request-time lists
//!   `team_inactive`, `opponent_inactive`, `team_starters`, `opponent_starters` and
//!   `ignore_stored`, as in `PredictRequest`) are answered batch by batch, row order kept,
//!   features looked up as for `Predict`, each answer saying where its lists came from. A
//!   row without a line uses the stored consensus, as `Predict` does (`line` is the line
//!   used, `line_source` and `line_time` say where it came from). A row that cannot be
//!   answered (null key, unknown player, bad date) gets null predictions and an `error`;
//!   the rest of the batch and the stream go on.
//! - `DoExchange` with `["features"]`: batches of the contract's feature columns (any
//!   other columns pass through as keys) are scored directly.
//! - `DoGet` with ticket `slate/YYYY-MM-DD`: a prediction for every player on every team
//!   scheduled that day, from the history before that day, with the inactive lists and
//!   lineups resolved as for a `Predict` that gives none (stored official, else the latest
//!   injury report, else unknown) and the stored consensus line at the server's clock;
//!   each row says its sources.
//! - `ListFlights`, `GetFlightInfo`, `GetSchema` describe both exchange inputs and the
//!   slates of the latest season.
//!
//! Batches are scored on the rayon pool (bounded by the cores), never on the runtime's
//! I/O threads, and a whole stream uses the model that was served when it started.
//!
//! An exchange never waits for its client to read before it reads more input: many
//! clients (pyarrow's `write_table(...); done_writing(); read_all()` among them) write
//! everything before reading anything, and a server that stopped reading while its
//! answers waited would leave both sides waiting forever. So answers queue in memory
//! (they are a few columns per row, while the input is every feature) up to
//! `--max-flight-answer-backlog-bytes`; past that the exchange ends with
//! RESOURCE_EXHAUSTED, and its remaining input is read and dropped so that the client's
//! writes finish and it sees the error.
//!
//! Nor does an exchange wait forever for a client that stopped: one that makes no
//! progress for `--flight-stall-secs` (no input message arrived, the client took no
//! answer, and no batch of it was being scored) ends with DEADLINE_EXCEEDED. Its queued
//! answers and decoded input are dropped at once and its tasks end; the client gets the
//! error when it next reads. A slate (`DoGet`) is one small batch, answered as soon as it
//! is scored: there is nothing for it to wait on, so it has no such limit.

use crate::error::ServeError;
use crate::predict::Predictor;
use crate::served_model::LoadedModel;
use arrow_array::builder::{BooleanBuilder, Float64Builder, StringBuilder, StringDictionaryBuilder};
use arrow_array::types::Int8Type;
use arrow_array::{Array, ArrayRef, DictionaryArray, Float32Array, Int8Array, RecordBatch, StringArray};
use arrow_data::transform::MutableArrayData;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::{DictionaryHandling, FlightDataEncoderBuilder};
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, PollInfo, PutResult,
    SchemaAsIpc, SchemaResult, Ticket,
};
use arrow_schema::{DataType, Field, Schema};
use chrono::NaiveDate;
use futures::stream::BoxStream;
use futures::task::AtomicWaker;
use futures::{FutureExt, StreamExt, TryStreamExt};
use nba_api::decode;
use nba_api::proto::predict::{Call, InfoSource, PlayerList, PredictRequest};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::AbortHandle;
use tokio_stream::wrappers::{ReceiverStream, UnboundedReceiverStream};
use tonic::{Code, Request, Response, Status, Streaming};

/// Descriptor path of the exchange that answers request rows.
pub const REQUESTS: &str = "requests";
/// Descriptor path of the exchange that scores raw feature columns.
pub const FEATURES: &str = "features";
/// Ticket prefix of a day's slate: `slate/YYYY-MM-DD`.
pub const SLATE_PREFIX: &str = "slate/";

#[derive(Clone)]
pub struct FlightApi {
    pub predictor: Arc<Predictor>,
    pub max_batch: usize,
    /// Bytes of answers one exchange may hold while its client does not read them.
    pub max_answer_backlog: usize,
    /// How long an exchange may make no progress before it ends (None: never).
    pub stall: Option<Duration>,
}

/// What a `DoExchange` stream carries, named by its descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExchangeInput {
    Requests,
    Features,
}

impl ExchangeInput {
    fn of(d: &FlightDescriptor) -> Result<ExchangeInput, ServeError> {
        let key = if d.path.is_empty() { String::from_utf8_lossy(&d.cmd).into_owned() } else { d.path.join("/") };
        match key.as_str() {
            REQUESTS => Ok(ExchangeInput::Requests),
            FEATURES => Ok(ExchangeInput::Features),
            other => Err(ServeError::InvalidInput(format!("descriptor {other:?}: use path [\"{REQUESTS}\"] or [\"{FEATURES}\"]"))),
        }
    }

    /// The `kind` label of the exchange's metrics.
    fn label(self) -> &'static str {
        match self {
            ExchangeInput::Requests => REQUESTS,
            ExchangeInput::Features => FEATURES,
        }
    }

    fn schema(self) -> Schema {
        match self {
            ExchangeInput::Requests => requests_schema(),
            ExchangeInput::Features => features_schema(),
        }
    }
}

/// Input of `DoExchange` `["requests"]`: the four keys, then optional columns (absent or
/// null: not given). A list column that is null on a row means "not given" there, an
/// empty list "known: nobody".
pub fn requests_schema() -> Schema {
    let mut fields = vec![
        Field::new("player_id", DataType::Utf8, false),
        Field::new("game_date", DataType::Utf8, false),
        Field::new("opponent", DataType::Utf8, false),
        Field::new("is_home", DataType::Boolean, false),
        Field::new("line", DataType::Float64, true),
        Field::new("team", DataType::Utf8, true),
    ];
    fields.extend(decode::REQUEST_LIST_COLUMNS.map(|name| Field::new(name, decode::player_list_type(), true)));
    fields.push(Field::new("ignore_stored", DataType::Boolean, true));
    Schema::new(fields)
}

/// The answer columns that say where a row's information came from, in order.
pub const SOURCE_COLUMNS: [&str; 4] = ["availability_source", "opponent_availability_source", "lineup_source", "opponent_lineup_source"];

/// The answer columns that say where a row's line came from: `request`, `consensus` or a
/// book's key (dictionary-encoded), and the stored snapshot's RFC 3339 time.
pub const LINE_COLUMNS: [&str; 2] = ["line_source", "line_time"];

/// The type of an answer column with few distinct values (the sources, and
/// `model_version`, one per batch): dictionary-encoded, each value sent once per batch
/// and a one-byte key per row.
fn label_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8))
}

/// A `model_version` column of `rows` rows, all `version`.
fn model_version_column(version: &str, rows: usize) -> ArrayRef {
    Arc::new(DictionaryArray::<Int8Type>::new(Int8Array::from(vec![0i8; rows]), Arc::new(StringArray::from(vec![version]))))
}

/// A source as the Flight columns spell it: "official", "injury_report", "request",
/// "unknown" (null only if the predictor left it unspecified).
pub fn source_name(v: i32) -> Option<&'static str> {
    match InfoSource::try_from(v).ok()? {
        InfoSource::Official => Some("official"),
        InfoSource::InjuryReport => Some("injury_report"),
        InfoSource::Request => Some("request"),
        InfoSource::Unknown => Some("unknown"),
        InfoSource::Unspecified => None,
    }
}

/// Input of `DoExchange` `["features"]`: the contract's columns, in order.
pub fn features_schema() -> Schema {
    Schema::new(nba_features::feature_names().into_iter().map(|n| Field::new(n, DataType::Float32, true)).collect::<Vec<_>>())
}

/// Output of `["requests"]` exchanges and of slates.
pub fn predictions_schema() -> Schema {
    Schema::new(vec![
        Field::new("player_id", DataType::Utf8, true),
        Field::new("game_date", DataType::Utf8, true),
        Field::new("team", DataType::Utf8, true),
        Field::new("opponent", DataType::Utf8, true),
        Field::new("is_home", DataType::Boolean, true),
        // The line the edge and call used: the request's, else a stored one.
        Field::new("line", DataType::Float64, true),
        Field::new("predicted_points", DataType::Float64, true),
        Field::new("p10", DataType::Float64, true),
        Field::new("p90", DataType::Float64, true),
        Field::new("edge", DataType::Float64, true),
        Field::new("p_over", DataType::Float64, true),
        Field::new("call", DataType::Utf8, true),
        // One model answers a whole batch: its version is sent once, then a byte per row.
        Field::new("model_version", label_type(), false),
        Field::new("error", DataType::Utf8, true),
        // After the original columns, so that clients reading by position keep working.
        Field::new(SOURCE_COLUMNS[0], label_type(), true),
        Field::new(SOURCE_COLUMNS[1], label_type(), true),
        Field::new(SOURCE_COLUMNS[2], label_type(), true),
        Field::new(SOURCE_COLUMNS[3], label_type(), true),
        // RFC 3339, as in PredictResponse; set when a list came from an injury report.
        Field::new("injury_report_time", DataType::Utf8, true),
        // As line_source and line_time in PredictResponse; null without a line.
        Field::new(LINE_COLUMNS[0], label_type(), true),
        Field::new(LINE_COLUMNS[1], DataType::Utf8, true),
    ])
}

/// The encoder of every answer stream. Dictionaries (the source columns, and any a
/// `["features"]` client passes through) are sent as dictionaries, with each batch, so the
/// columns arrive with the types `GetSchema` advertises (arrow-flight's default would
/// turn them into plain strings on the wire).
fn encoder() -> FlightDataEncoderBuilder {
    FlightDataEncoderBuilder::new().with_dictionary_handling(DictionaryHandling::Resend)
}

fn schema_result(s: &Schema) -> Result<SchemaResult, ServeError> {
    Ok(SchemaAsIpc::new(s, &Default::default()).try_into()?)
}

fn info(s: &Schema, descriptor: FlightDescriptor, ticket: Option<String>) -> Result<FlightInfo, ServeError> {
    let mut i = FlightInfo::new().try_with_schema(s)?.with_descriptor(descriptor);
    if let Some(t) = ticket {
        i = i.with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(t)));
    }
    Ok(i)
}

/// Runs CPU work on the rayon pool and awaits it without blocking a runtime thread.
async fn on_pool<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ServeError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let _ = tx.send(f());
    });
    rx.await.map_err(|_| ServeError::Internal("scoring task ended without an answer".into()))
}

/// The columns of a `predictions_schema` batch, filled row by row.
struct PredictionRows {
    player_id: StringBuilder,
    game_date: StringBuilder,
    team: StringBuilder,
    opponent: StringBuilder,
    is_home: BooleanBuilder,
    line: Float64Builder,
    pred: Float64Builder,
    p10: Float64Builder,
    p90: Float64Builder,
    edge: Float64Builder,
    p_over: Float64Builder,
    call: StringBuilder,
    /// Rows pushed (every row carries the one model's version).
    rows: usize,
    version: String,
    error: StringBuilder,
    /// In SOURCE_COLUMNS order.
    sources: [StringDictionaryBuilder<Int8Type>; 4],
    report_time: StringBuilder,
    line_source: StringDictionaryBuilder<Int8Type>,
    line_time: StringBuilder,
}

impl PredictionRows {
    /// Answers of one batch, all by `model`.
    fn new(model: &LoadedModel) -> PredictionRows {
        PredictionRows {
            player_id: StringBuilder::new(),
            game_date: StringBuilder::new(),
            team: StringBuilder::new(),
            opponent: StringBuilder::new(),
            is_home: BooleanBuilder::new(),
            line: Float64Builder::new(),
            pred: Float64Builder::new(),
            p10: Float64Builder::new(),
            p90: Float64Builder::new(),
            edge: Float64Builder::new(),
            p_over: Float64Builder::new(),
            call: StringBuilder::new(),
            rows: 0,
            version: model.version.clone(),
            error: StringBuilder::new(),
            sources: std::array::from_fn(|_| StringDictionaryBuilder::new()),
            report_time: StringBuilder::new(),
            line_source: StringDictionaryBuilder::new(),
            line_time: StringBuilder::new(),
        }
    }

    /// One row: the request's keys and either the answer or the error.
    fn push(&mut self, req: Option<&PredictRequest>, model: &LoadedModel, answer: Result<crate::predict::Scored, ServeError>) {
        self.player_id.append_option(req.map(|r| r.player_id.as_str()));
        self.game_date.append_option(req.map(|r| r.game_date.as_str()));
        self.opponent.append_option(req.map(|r| r.opponent.as_str()));
        self.is_home.append_option(req.map(|r| r.is_home));
        self.rows += 1;
        debug_assert_eq!(self.version, model.version, "one model answers a batch");
        match answer {
            Ok(s) => {
                let r = s.response;
                self.line.append_option(r.line);
                self.line_source.append_option(Some(r.line_source.as_str()).filter(|s| !s.is_empty()));
                self.line_time.append_option(r.line_time.as_deref());
                self.team.append_value(&r.team);
                self.pred.append_value(r.predicted_points);
                self.p10.append_value(r.p10);
                self.p90.append_value(r.p90);
                self.edge.append_option(r.edge);
                self.p_over.append_option(r.p_over);
                match Call::try_from(r.call) {
                    Ok(Call::Unspecified) | Err(_) => self.call.append_null(),
                    Ok(c) => self.call.append_value(c.as_str_name()),
                }
                let sources = [r.availability_source, r.opponent_availability_source, r.lineup_source, r.opponent_lineup_source];
                for (b, source) in self.sources.iter_mut().zip(sources) {
                    b.append_option(source_name(source));
                }
                self.report_time.append_option(r.injury_report_time.as_deref());
                self.error.append_null();
            }
            Err(e) => {
                // The line asked for, as the other keys of a row without an answer.
                self.line.append_option(req.and_then(|r| r.line));
                self.line_source.append_null();
                self.line_time.append_null();
                self.team.append_option(req.and_then(|r| r.team.as_deref()));
                for b in [&mut self.pred, &mut self.p10, &mut self.p90, &mut self.edge, &mut self.p_over] {
                    b.append_null();
                }
                self.call.append_null();
                for b in &mut self.sources {
                    b.append_null();
                }
                self.report_time.append_null();
                // The row's status as a client would get it from `Predict`: code, then message.
                self.error.append_value(format!("{}: {e}", crate::grpc::code_name(e.code())));
            }
        }
    }

    fn finish(mut self) -> Result<RecordBatch, ServeError> {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.player_id.finish()),
            Arc::new(self.game_date.finish()),
            Arc::new(self.team.finish()),
            Arc::new(self.opponent.finish()),
            Arc::new(self.is_home.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.pred.finish()),
            Arc::new(self.p10.finish()),
            Arc::new(self.p90.finish()),
            Arc::new(self.edge.finish()),
            Arc::new(self.p_over.finish()),
            Arc::new(self.call.finish()),
            model_version_column(&self.version, self.rows),
            Arc::new(self.error.finish()),
        ];
        cols.extend(self.sources.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        cols.push(Arc::new(self.report_time.finish()));
        cols.push(Arc::new(self.line_source.finish()));
        cols.push(Arc::new(self.line_time.finish()));
        Ok(RecordBatch::try_new(Arc::new(predictions_schema()), cols)?)
    }
}

/// Scores a `["requests"]` batch; a bad row is answered with its error.
fn score_requests(p: &Predictor, model: &Arc<LoadedModel>, b: &RecordBatch) -> Result<RecordBatch, ServeError> {
    let columns = decode::RequestColumns::read(b)?;
    let mut out = PredictionRows::new(model);
    for i in 0..columns.len() {
        let row = match columns.row(i) {
            Ok(row) => row,
            Err(e) => {
                out.push(None, model, Err(ServeError::InvalidInput(e)));
                continue;
            }
        };
        let list = |ids: Option<Vec<String>>| ids.map(|player_ids| PlayerList { player_ids });
        let req = PredictRequest {
            player_id: row.player_id,
            game_date: row.game_date,
            opponent: row.opponent,
            is_home: row.is_home,
            team: row.team,
            line: row.line,
            team_inactive: list(row.team_inactive),
            opponent_inactive: list(row.opponent_inactive),
            team_starters: list(row.team_starters),
            opponent_starters: list(row.opponent_starters),
            ignore_stored: row.ignore_stored,
            line_book: None,
        };
        let answer = p.predict_with(model, &req, "Flight");
        out.push(Some(&req), model, answer);
    }
    out.finish()
}

/// Scores a `["features"]` batch: other columns pass through, then `predicted_points`
/// and `model_version`.
/// `c` in buffers of its own (a slice of a bigger array shares, and keeps alive, all of
/// that array's buffers).
fn owned_copy(c: &ArrayRef) -> Result<ArrayRef, arrow_schema::ArrowError> {
    let data = c.to_data();
    let mut copy = MutableArrayData::new(vec![&data], false, data.len());
    copy.try_extend(0, 0, data.len())?;
    Ok(arrow_array::make_array(copy.freeze()))
}

fn score_features(model: &LoadedModel, b: &RecordBatch) -> Result<RecordBatch, ServeError> {
    let names = nba_features::feature_names();
    let rows = b.num_rows();
    let cols = decode::FeatureColumns::of(b, &names)?;
    // Scored straight from the batch's columns (a copy only of a column with nulls):
    // the scorer takes column-major blocks, so the batch is never transposed into rows.
    let values = cols.values();
    let values: Vec<&[f32]> = values.iter().map(|c| &c[..]).collect();
    let mut scores = vec![0.0f32; rows];
    model.scorer.predict_columns_into(&values, &mut scores)?;
    let mut fields: Vec<Arc<Field>> = vec![];
    let mut cols: Vec<ArrayRef> = vec![];
    for (f, c) in b.schema().fields().iter().zip(b.columns()) {
        if !names.iter().any(|n| n == f.name()) {
            fields.push(f.clone());
            // A copy: a decoded column is a slice of its whole message, so an answer
            // that kept it would keep every feature of the batch alive while it waits
            // for the client.
            cols.push(owned_copy(c)?);
        }
    }
    fields.push(Arc::new(Field::new("predicted_points", DataType::Float32, false)));
    cols.push(Arc::new(Float32Array::from(scores)));
    fields.push(Arc::new(Field::new("model_version", label_type(), false)));
    cols.push(model_version_column(&model.version, rows));
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

impl FlightApi {
    /// The slate of `date`: every player of both teams of every game that day. No list is
    /// given, so each row's lists are resolved as for a `Predict` without them (stored
    /// official, else the latest injury report, else unknown) and its sources say which.
    fn slate(&self, model: &Arc<LoadedModel>, date: NaiveDate) -> Result<RecordBatch, ServeError> {
        let snap = self.predictor.feature_source.snapshot().ok_or_else(|| ServeError::Unavailable("the feature history is not loaded yet".into()))?;
        let mut out = PredictionRows::new(model);
        for req in crate::slate::requests(&snap, date, &Default::default())? {
            let answer = self.predictor.predict_with(model, &req, "FlightSlate");
            out.push(Some(&req), model, answer);
        }
        out.finish()
    }

    /// Slate dates listed by `ListFlights`: the latest season in the schedule.
    fn slate_dates(&self) -> Vec<NaiveDate> {
        let Some(snap) = self.predictor.feature_source.snapshot() else { return vec![] };
        let latest = snap.schedule.keys().map(|d| nba_pages::season::season_of(*d)).max();
        let mut dates: Vec<NaiveDate> = snap.schedule.keys().copied().filter(|d| Some(nba_pages::season::season_of(*d)) == latest).collect();
        dates.sort();
        dates
    }

    /// Every flight this server offers: both exchange inputs, then the latest season's slates.
    fn flights(&self) -> Result<Vec<FlightInfo>, ServeError> {
        let mut infos = vec![
            info(&requests_schema(), FlightDescriptor::new_path(vec![REQUESTS.into()]), None)?,
            info(&features_schema(), FlightDescriptor::new_path(vec![FEATURES.into()]), None)?,
        ];
        let out = predictions_schema();
        for d in self.slate_dates() {
            let t = format!("{SLATE_PREFIX}{d}");
            infos.push(info(&out, FlightDescriptor::new_path(vec!["slate".into(), d.to_string()]), Some(t))?);
        }
        Ok(infos)
    }

    /// A day's slate, scored on the pool with the served model.
    async fn slate_for(&self, ticket: &[u8]) -> Result<RecordBatch, ServeError> {
        let date = parse_slate(ticket)?;
        let model = self.predictor.model()?;
        let api = self.clone();
        on_pool(move || api.slate(&model, date)).await?
    }

    /// Reads an exchange's first message: what it scores and with which model (one model
    /// for the whole stream, even if a reload happens midway), and the client's batches.
    async fn open_exchange(&self, mut inbound: Streaming<FlightData>) -> Result<(Exchange, FlightRecordBatchStream), ServeError> {
        let first = inbound.message().await.map_err(|s| ServeError::Stream(Box::new(s)))?.ok_or_else(|| ServeError::InvalidInput("empty exchange".into()))?;
        let descriptor = first
            .flight_descriptor
            .clone()
            .ok_or_else(|| ServeError::InvalidInput(format!("the first message must carry a descriptor: path [\"{REQUESTS}\"] or [\"{FEATURES}\"]")))?;
        let input = ExchangeInput::of(&descriptor)?;
        let model = self.predictor.model()?;
        // Every message that arrives is progress, whatever it carries.
        let progress = Progress::new();
        let arrived = progress.clone();
        // Clients (pyarrow among them) may open with a descriptor-only message and send
        // metadata-only messages: they carry no IPC header, so the decoder never sees them.
        let messages = futures::stream::once(async move { Ok(first) })
            .chain(inbound.inspect(move |_| arrived.mark()).map_err(FlightError::from))
            .try_filter(|m| futures::future::ready(!m.data_header.is_empty()));
        let batches = FlightRecordBatchStream::new_from_flight_data(messages);
        Ok((Exchange { input, model, predictor: self.predictor.clone(), max_batch: self.max_batch, progress }, batches))
    }

    /// [`Self::open_exchange`], within `--flight-stall-secs`: a client that opens an
    /// exchange and never sends its first message must not hold it open forever.
    async fn open_exchange_in_time(&self, inbound: Streaming<FlightData>) -> Result<(Exchange, FlightRecordBatchStream), ServeError> {
        let Some(stall) = self.stall else { return self.open_exchange(inbound).await };
        match tokio::time::timeout(stall, self.open_exchange(inbound)).await {
            Ok(opened) => opened,
            Err(_) => {
                let e = ServeError::Stalled(format!("no input for {} s (--flight-stall-secs): the first message never came", stall.as_secs()));
                stalled("opening", stall, 0);
                Err(e)
            }
        }
    }
}

fn parse_slate(ticket: &[u8]) -> Result<NaiveDate, ServeError> {
    let t = std::str::from_utf8(ticket).map_err(|_| ServeError::InvalidInput("ticket is not UTF-8".into()))?;
    let d = t.strip_prefix(SLATE_PREFIX).ok_or_else(|| ServeError::InvalidInput(format!("ticket {t:?}: expected {SLATE_PREFIX}YYYY-MM-DD")))?;
    NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| ServeError::InvalidInput(format!("ticket {t:?}: {d:?} is not a date")))
}

/// The next decoded batch of an exchange. Arrow's IPC reader panics on some malformed
/// messages instead of returning an error (a buffer that points past the message body, found
/// by the `flight_batch` fuzz target): such a panic is caught here and ends the stream with
/// `INVALID_ARGUMENT`, so the client learns its input was refused instead of seeing a
/// stream that just stops, as if every batch had been answered.
async fn next_batch<S>(batches: &mut S) -> Option<Result<RecordBatch, ServeError>>
where
    S: futures::Stream<Item = Result<RecordBatch, FlightError>> + Unpin,
{
    match std::panic::AssertUnwindSafe(batches.next()).catch_unwind().await {
        Ok(next) => next.map(|r| r.map_err(ServeError::flight_input)),
        Err(panic) => {
            let why = panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied()).unwrap_or("unknown");
            tracing::warn!(why, "a Flight message could not be decoded as Arrow IPC");
            Some(Err(ServeError::InvalidInput(format!("a message is not valid Arrow IPC ({why})"))))
        }
    }
}

/// Batches of one exchange scored at once (each on the whole pool), answered in order.
const PIPELINE: usize = 2;

/// Decoded batches of one exchange waiting for the scorer: at most READ_AHEAD_KIB of
/// them (by their Arrow data; always at least one batch, however big) and at most
/// READ_AHEAD batches. 64 MiB is about 230,000 rows of 72 features, some 0.13 s of
/// scoring on two cores; clients send messages of about 2 MB (arrow-rs's encoder splits
/// batches at 2 MiB), so the count bound rarely binds.
const READ_AHEAD_KIB: usize = 64 * 1024;
const READ_AHEAD: usize = 64;

/// KiB of `b`'s Arrow data, as counted against READ_AHEAD_KIB (slices count only their
/// own bytes: a decoded batch's columns share one buffer).
fn batch_kib(b: &RecordBatch) -> u32 {
    let bytes: usize = b.columns().iter().map(|c| c.to_data().get_slice_memory_size().unwrap_or_else(|_| c.get_array_memory_size())).sum();
    (bytes >> 10).clamp(1, READ_AHEAD_KIB) as u32
}

/// A decoded batch and its share of the read-ahead budget (released once it is scored).
type Decoded = Result<(RecordBatch, OwnedSemaphorePermit), ServeError>;

/// Receives and decodes an exchange's batches in a task of their own, up to
/// READ_AHEAD_KIB ahead of scoring, so that the network and the decoder never wait for
/// the scorer to free a slot: the pool is never left idle while the next batch arrives.
/// Returns the decoded batches and the handle that stops the task (a stalled exchange).
fn spawn_reader(mut batches: FlightRecordBatchStream) -> (tokio::sync::mpsc::Receiver<Decoded>, AbortHandle) {
    let (ready_tx, ready_rx) = tokio::sync::mpsc::channel::<Decoded>(READ_AHEAD);
    let budget = Arc::new(Semaphore::new(READ_AHEAD_KIB));
    let task = tokio::spawn(async move {
        while let Some(next) = next_batch(&mut batches).await {
            let failed = next.is_err();
            let next = match next {
                Ok(b) => match budget.clone().acquire_many_owned(batch_kib(&b)).await {
                    Ok(permit) => Ok((b, permit)),
                    Err(_) => break,
                },
                Err(e) => Err(e),
            };
            // A closed channel: the exchange ended (an error, or the client left).
            if ready_tx.send(next).await.is_err() || failed {
                drain(batches).await;
                break;
            }
        }
    });
    (ready_rx, task.abort_handle())
}

/// Reads and drops what a client still sends after its exchange has ended with an error:
/// a client that writes everything before reading would otherwise wait forever for the
/// server to read, and never see the error. Ends when the client ends its input, leaves,
/// or the transport closes the stream once the answer is sent.
async fn drain(mut batches: FlightRecordBatchStream) {
    let mut dropped = 0usize;
    while let Some(next) = batches.next().await {
        match next {
            Ok(b) => dropped += b.num_rows(),
            Err(_) => break,
        }
    }
    if dropped > 0 {
        tracing::debug!(dropped, "rows sent after the exchange had ended were dropped");
    }
}

/// The answers of one exchange on their way to the client, and how many bytes of them
/// wait for it. Sending never waits for the client (see the module's doc); the backlog
/// is bounded instead.
struct AnswerQueue {
    tx: tokio::sync::mpsc::UnboundedSender<Result<RecordBatch, FlightError>>,
    backlog: Arc<AtomicUsize>,
    limit: usize,
}

impl AnswerQueue {
    /// The queue, and the stream of its answers that the response encodes (taking an
    /// answer off the backlog as the encoder takes it).
    fn new(limit: usize) -> (AnswerQueue, BoxStream<'static, Result<RecordBatch, FlightError>>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let backlog = Arc::new(AtomicUsize::new(0));
        let taken = backlog.clone();
        let answers = UnboundedReceiverStream::new(rx)
            .map(move |answer: Result<RecordBatch, FlightError>| {
                if let Ok(b) = &answer {
                    taken.fetch_sub(answer_bytes(b), Ordering::Relaxed);
                }
                answer
            })
            .boxed();
        (AnswerQueue { tx, backlog, limit }, answers)
    }

    /// Queues an answer, or refuses it when the client has left (`Ok(false)`) or has let
    /// more than `limit` bytes of answers pile up unread (always admitting one answer, so
    /// a limit below one batch's answer cannot stall an exchange that reads).
    fn send(&self, answer: RecordBatch) -> Result<bool, ServeError> {
        let bytes = answer_bytes(&answer);
        let waiting = self.backlog.load(Ordering::Relaxed);
        if waiting > 0 && waiting + bytes > self.limit {
            return Err(ServeError::TooLarge(format!(
                "{waiting} bytes of answers are waiting for the client to read them (at most {} per exchange, \
                 --max-flight-answer-backlog-bytes): read answers while writing, or send fewer rows per exchange",
                self.limit
            )));
        }
        self.backlog.fetch_add(bytes, Ordering::Relaxed);
        Ok(self.tx.send(Ok(answer)).is_ok())
    }

    /// Ends the exchange with an error, after the answers already queued.
    fn fail(&self, e: ServeError) {
        let _ = self.tx.send(Err(e.into()));
    }
}

/// Bytes an answer holds in memory: its own buffers (answers never share the input's).
fn answer_bytes(b: &RecordBatch) -> usize {
    b.get_array_memory_size()
}

/// One `DoExchange` stream after its first message: what it scores and with which model.
struct Exchange {
    input: ExchangeInput,
    model: Arc<LoadedModel>,
    predictor: Arc<Predictor>,
    max_batch: usize,
    progress: Arc<Progress>,
}

impl Exchange {
    /// Scores one decoded batch on the pool; a batch over the row limit is refused before
    /// any work is done on it.
    async fn score(self: Arc<Self>, next: Decoded) -> Result<RecordBatch, ServeError> {
        let (batch, permit) = next?;
        if batch.num_rows() > self.max_batch {
            return Err(decode::BatchError::TooManyRows { rows: batch.num_rows(), max: self.max_batch }.into());
        }
        let rows = batch.num_rows() as u64;
        let label = self.input.label();
        let scoring = Scoring::start(&self.progress);
        let scored = on_pool(move || match self.input {
            ExchangeInput::Requests => score_requests(&self.predictor, &self.model, &batch),
            ExchangeInput::Features => score_features(&self.model, &batch),
        })
        .await
        .and_then(|r| r);
        drop(scoring);
        drop(permit);
        if scored.is_ok() {
            metrics::counter!("nba_flight_rows_total", "kind" => label).increment(rows);
            metrics::counter!("nba_flight_batches_total", "kind" => label).increment(1);
        }
        scored
    }

    /// Scores the decoded batches, PIPELINE at a time, and sends the answers in input
    /// order until the input ends (also when a stalled exchange's reader is stopped), a
    /// batch fails (its error ends the stream) or the client leaves; then records how long
    /// the scoring took. The call's own metrics are recorded when its answers end
    /// ([`AnswerStream`]).
    async fn run(self, decoded: tokio::sync::mpsc::Receiver<Decoded>, answers: AnswerQueue, started: Instant) {
        let label = self.input.label();
        let exchange = Arc::new(self);
        let mut scored = ReceiverStream::new(decoded).map(move |next| exchange.clone().score(next)).buffered(PIPELINE).boxed();
        while let Some(result) = scored.next().await {
            match result.and_then(|answer| answers.send(answer)) {
                Ok(true) => {}
                // The client left, or the exchange was cut off: nobody to answer.
                Ok(false) => break,
                Err(e) => {
                    answers.fail(e);
                    break;
                }
            }
        }
        metrics::histogram!("nba_flight_stream_duration_seconds", "kind" => label).record(started.elapsed().as_secs_f64());
    }
}

/// When an exchange last made progress, shared by its parts: the input (a message
/// arrived), the response (the transport took an answer) and the scorer (a batch is being
/// scored: the server, not the client, is what the exchange waits for then).
struct Progress {
    started: Instant,
    /// Milliseconds from `started` to the latest progress.
    last_ms: AtomicU64,
    /// Batches of the exchange on the pool now.
    scoring: AtomicUsize,
}

impl Progress {
    fn new() -> Arc<Progress> {
        Arc::new(Progress { started: Instant::now(), last_ms: AtomicU64::new(0), scoring: AtomicUsize::new(0) })
    }

    fn mark(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(now, Ordering::Relaxed);
    }

    /// How long the exchange has made no progress; None while a batch is being scored.
    fn idle(&self) -> Option<Duration> {
        if self.scoring.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let last = self.started + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        Some(last.elapsed())
    }
}

/// One batch on the pool, from `start` until dropped (which is progress: it was scored).
struct Scoring(Arc<Progress>);

impl Scoring {
    fn start(progress: &Arc<Progress>) -> Scoring {
        progress.scoring.fetch_add(1, Ordering::Relaxed);
        Scoring(progress.clone())
    }
}

impl Drop for Scoring {
    fn drop(&mut self) {
        self.0.mark();
        self.0.scoring.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The encoded answers of an exchange, or the error that cut them off.
enum Answers {
    Flowing(FlightStream<FlightData>),
    Cut(Status),
}

/// What an exchange's response shares with its watchdog: the answers, which the watchdog
/// can drop at once (the transport may not poll the response for as long as the client
/// does not read), and the waker of the response's task.
struct Cuttable {
    answers: Mutex<Answers>,
    waker: AtomicWaker,
}

impl Cuttable {
    /// Drops the queued answers (with the encoder, its buffers) and ends the response with
    /// `e` the next time the transport polls it.
    fn cut(&self, e: ServeError) {
        let dropped = std::mem::replace(&mut *self.answers.lock().unwrap_or_else(|p| p.into_inner()), Answers::Cut(e.into()));
        drop(dropped);
        self.waker.wake();
    }

    fn is_cut(&self) -> bool {
        matches!(*self.answers.lock().unwrap_or_else(|p| p.into_inner()), Answers::Cut(_))
    }
}

/// The response of one `DoExchange`: its encoded answers as the transport takes them.
/// Each message handed on is progress; once cut, the next poll ends the stream with the
/// cut's error; when it ends, or the client leaves, the call's metrics are recorded with
/// its final code, and the watchdog stops.
struct AnswerStream {
    shared: Arc<Cuttable>,
    progress: Arc<Progress>,
    started: Instant,
    /// The code the stream ended with, once it has.
    ended: Option<Code>,
    /// Dropped with the stream: tells the watchdog that the exchange is over.
    _over: tokio::sync::oneshot::Sender<()>,
}

impl AnswerStream {
    fn new(answers: FlightStream<FlightData>, progress: Arc<Progress>, started: Instant) -> (AnswerStream, Arc<Cuttable>, tokio::sync::oneshot::Receiver<()>) {
        let shared = Arc::new(Cuttable { answers: Mutex::new(Answers::Flowing(answers)), waker: AtomicWaker::new() });
        let (over, watching) = tokio::sync::oneshot::channel();
        (AnswerStream { shared: shared.clone(), progress, started, ended: None, _over: over }, shared, watching)
    }
}

impl futures::Stream for AnswerStream {
    type Item = Result<FlightData, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended.is_some() {
            return Poll::Ready(None);
        }
        self.shared.waker.register(cx.waker());
        let next = match &mut *self.shared.answers.lock().unwrap_or_else(|p| p.into_inner()) {
            Answers::Flowing(answers) => answers.poll_next_unpin(cx),
            Answers::Cut(status) => Poll::Ready(Some(Err(status.clone()))),
        };
        match &next {
            Poll::Ready(Some(Ok(_))) => self.progress.mark(),
            Poll::Ready(Some(Err(status))) => self.ended = Some(status.code()),
            Poll::Ready(None) => self.ended = Some(Code::Ok),
            Poll::Pending => {}
        }
        next
    }
}

impl Drop for AnswerStream {
    fn drop(&mut self) {
        // Not ended: the client left (or was cut off and never read again).
        let code = self.ended.unwrap_or_else(|| if self.shared.is_cut() { Code::DeadlineExceeded } else { Code::Cancelled });
        crate::grpc::observe("FlightDoExchange", self.started, code);
    }
}

/// Ends an exchange that makes no progress for `stall` (`--flight-stall-secs`): it stops
/// the reader (the decoded input is dropped, and the scorer, finding no more input, ends)
/// and cuts the response off.
struct Watchdog {
    stall: Duration,
    progress: Arc<Progress>,
    answers: Arc<Cuttable>,
    reader: AbortHandle,
    /// Bytes of answers queued and not yet taken by the transport.
    unread: Arc<AtomicUsize>,
    label: &'static str,
}

impl Watchdog {
    /// Sleeps until the exchange has been idle for `stall`, then cuts it off; returns
    /// early when the response ends (`over` fires when it is dropped).
    async fn run(self, mut over: tokio::sync::oneshot::Receiver<()>) {
        loop {
            let wait = match self.progress.idle() {
                Some(idle) if idle >= self.stall => break,
                Some(idle) => self.stall - idle,
                // Scoring: check again a whole period later (its end is progress).
                None => self.stall,
            };
            tokio::select! {
                _ = &mut over => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
        let unread = self.unread.load(Ordering::Relaxed);
        let waiting = if unread > 0 { format!("; {unread} bytes of answers were waiting to be read") } else { String::new() };
        let e = ServeError::Stalled(format!("no input and no answer read for {} s (--flight-stall-secs){waiting}", self.stall.as_secs()));
        stalled(self.label, self.stall, unread);
        self.reader.abort();
        self.answers.cut(e);
    }
}

/// Counts and logs an exchange ended for making no progress.
fn stalled(kind: &'static str, stall: Duration, unread_answer_bytes: usize) {
    metrics::counter!("nba_flight_stalled_total", "kind" => kind).increment(1);
    tracing::warn!(
        kind,
        stall_secs = stall.as_secs(),
        unread_answer_bytes,
        "a Flight exchange made no progress for --flight-stall-secs: ended with DEADLINE_EXCEEDED"
    );
}

type FlightStream<T> = BoxStream<'static, Result<T, Status>>;

#[tonic::async_trait]
impl FlightService for FlightApi {
    type HandshakeStream = FlightStream<HandshakeResponse>;
    type ListFlightsStream = FlightStream<FlightInfo>;
    type DoGetStream = FlightStream<FlightData>;
    type DoPutStream = FlightStream<PutResult>;
    type DoExchangeStream = FlightStream<FlightData>;
    type DoActionStream = FlightStream<arrow_flight::Result>;
    type ListActionsStream = FlightStream<ActionType>;

    async fn handshake(&self, _r: Request<Streaming<HandshakeRequest>>) -> Result<Response<Self::HandshakeStream>, Status> {
        Err(ServeError::Unimplemented("no handshake: send the bearer token as `authorization` metadata").into())
    }

    async fn list_flights(&self, _r: Request<Criteria>) -> Result<Response<Self::ListFlightsStream>, Status> {
        let infos = self.flights()?;
        Ok(Response::new(futures::stream::iter(infos.into_iter().map(Ok)).boxed()))
    }

    async fn get_flight_info(&self, r: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        let d = r.into_inner();
        if d.path.first().map(String::as_str) == Some("slate") {
            let date = parse_slate(format!("{SLATE_PREFIX}{}", d.path.get(1).cloned().unwrap_or_default()).as_bytes())?;
            let t = format!("{SLATE_PREFIX}{date}");
            return Ok(Response::new(info(&predictions_schema(), d, Some(t))?));
        }
        let schema = ExchangeInput::of(&d)?.schema();
        Ok(Response::new(info(&schema, d, None)?))
    }

    async fn poll_flight_info(&self, _r: Request<FlightDescriptor>) -> Result<Response<PollInfo>, Status> {
        Err(ServeError::Unimplemented("use GetFlightInfo: every flight here is ready at once").into())
    }

    async fn get_schema(&self, r: Request<FlightDescriptor>) -> Result<Response<SchemaResult>, Status> {
        let d = r.into_inner();
        if d.path.first().map(String::as_str) == Some("slate") {
            return Ok(Response::new(schema_result(&predictions_schema())?));
        }
        Ok(Response::new(schema_result(&ExchangeInput::of(&d)?.schema())?))
    }

    async fn do_get(&self, r: Request<Ticket>) -> Result<Response<Self::DoGetStream>, Status> {
        let started = Instant::now();
        let result = self.slate_for(&r.into_inner().ticket).await.map(|b| {
            metrics::counter!("nba_flight_rows_total", "kind" => "slate").increment(b.num_rows() as u64);
            let s = futures::stream::iter([Ok(b)]);
            encoder().build(s).map_err(|e| Status::from(ServeError::flight_output(e))).boxed()
        });
        crate::grpc::finish("FlightDoGet", started, result)
    }

    async fn do_put(&self, _r: Request<Streaming<FlightData>>) -> Result<Response<Self::DoPutStream>, Status> {
        Err(ServeError::Unimplemented("this server does not store uploads; use DoExchange to score batches").into())
    }

    /// Three tasks and the response: the reader decodes input, `Exchange::run` scores it
    /// and queues the answers, the response hands them to the transport, and a watchdog
    /// (with `--flight-stall-secs`) ends the exchange if none of them makes progress.
    async fn do_exchange(&self, r: Request<Streaming<FlightData>>) -> Result<Response<Self::DoExchangeStream>, Status> {
        let started = Instant::now();
        let (exchange, batches) = match self.open_exchange_in_time(r.into_inner()).await {
            Ok(opened) => opened,
            Err(e) => return crate::grpc::finish("FlightDoExchange", started, Err(e)),
        };
        let (label, progress) = (exchange.input.label(), exchange.progress.clone());
        let (answers, answered) = AnswerQueue::new(self.max_answer_backlog);
        let unread = answers.backlog.clone();
        let (decoded, reader) = spawn_reader(batches);
        tokio::spawn(exchange.run(decoded, answers, started));
        let encoded = encoder().build(answered).map_err(|e| Status::from(ServeError::flight_output(e))).boxed();
        let (out, cuttable, over) = AnswerStream::new(encoded, progress.clone(), started);
        if let Some(stall) = self.stall {
            tokio::spawn(Watchdog { stall, progress, answers: cuttable, reader, unread, label }.run(over));
        }
        Ok(Response::new(out.boxed()))
    }

    async fn do_action(&self, _r: Request<Action>) -> Result<Response<Self::DoActionStream>, Status> {
        Err(ServeError::Unimplemented("no actions").into())
    }

    async fn list_actions(&self, _r: Request<Empty>) -> Result<Response<Self::ListActionsStream>, Status> {
        Ok(Response::new(futures::stream::empty().boxed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::BooleanArray;

    /// The read-ahead budget counts a batch's own bytes: a slice of a big column (as a
    /// decoded batch's columns are, of one message body) counts only its rows.
    #[test]
    fn read_ahead_counts_only_a_batch_s_own_bytes() {
        let col = |rows: usize| Arc::new(Float32Array::from(vec![1.0f32; rows])) as ArrayRef;
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Float32, false), Field::new("b", DataType::Float32, false)]));
        let whole = RecordBatch::try_new(schema, vec![col(1 << 20), col(1 << 20)]).unwrap();
        assert_eq!(batch_kib(&whole), 8 * 1024, "2 columns x 1 Mi floats");
        assert_eq!(batch_kib(&whole.slice(0, 1 << 18)), 2 * 1024, "a quarter of the rows");
        assert_eq!(batch_kib(&whole.slice(0, 1)), 1, "never 0: every batch takes a permit");
    }

    /// A cut drops the response's answers at once, although the transport does not poll
    /// it (a client that does not read leaves it unpolled): the next poll gives the error,
    /// then the end.
    #[tokio::test]
    async fn a_cut_response_drops_its_answers_unpolled_then_ends_with_the_error() {
        let held = Arc::new(());
        let token = held.clone();
        let answers = futures::stream::iter([Ok(FlightData::default())]).chain(futures::stream::pending()).map(move |m| {
            let _ = &token;
            m
        });
        let (mut out, cuttable, _over) = AnswerStream::new(answers.boxed(), Progress::new(), Instant::now());
        assert!(out.next().await.unwrap().is_ok(), "answers flow until cut");
        assert_eq!(Arc::strong_count(&held), 2, "the answers are held");
        cuttable.cut(ServeError::Stalled("no input and no answer read for 1 s".into()));
        assert_eq!(Arc::strong_count(&held), 1, "a cut drops the answers without a poll");
        let status = out.next().await.unwrap().unwrap_err();
        assert_eq!((status.code(), status.message()), (Code::DeadlineExceeded, "no input and no answer read for 1 s"));
        assert!(out.next().await.is_none(), "then the stream ends");
    }

    /// An exchange is idle only while nothing of it is on the pool; a scored batch, like
    /// any progress, starts the idle time again.
    #[test]
    fn a_batch_being_scored_is_not_idle_time() {
        let progress = Progress::new();
        std::thread::sleep(Duration::from_millis(30));
        assert!(progress.idle().unwrap() >= Duration::from_millis(30));
        let scoring = Scoring::start(&progress);
        assert_eq!(progress.idle(), None, "the server, not the client, is busy");
        std::thread::sleep(Duration::from_millis(30));
        drop(scoring);
        assert!(progress.idle().unwrap() < Duration::from_millis(30), "scored: progress");
    }

    /// The `flight_batch` fuzz target's first crash, rebuilt: a record batch message whose
    /// buffers point past its (here emptied) body. Arrow's reader panics on it; the exchange
    /// must answer INVALID_ARGUMENT instead.
    #[tokio::test]
    async fn a_batch_pointing_past_its_body_is_invalid_argument_not_a_panic() {
        let strings = |v: &str| Arc::new(StringArray::from(vec![v])) as ArrayRef;
        // The keys, line and team (the optional columns may be left out).
        let schema = requests_schema().project(&[0, 1, 2, 3, 4, 5]).unwrap();
        let batch = RecordBatch::try_new(
            Arc::new(schema.clone()),
            vec![
                strings("jamesle01"),
                strings("2024-03-05"),
                strings("BOS"),
                Arc::new(BooleanArray::from(vec![true])),
                Arc::new(arrow_array::Float64Array::from(vec![None])),
                Arc::new(StringArray::from(vec![None::<&str>])),
            ],
        )
        .unwrap();
        let mut messages = arrow_flight::utils::batches_to_flight_data(&schema, &[batch]).unwrap();
        assert_eq!(messages.len(), 2, "schema, then the batch");
        messages[1].data_body = Default::default();
        let mut batches = FlightRecordBatchStream::new_from_flight_data(futures::stream::iter(messages.into_iter().map(Ok)));
        let Some(Err(e)) = next_batch(&mut batches).await else { panic!("expected an error") };
        let status = Status::from(e);
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().starts_with("a message is not valid Arrow IPC"), "{}", status.message());
    }
}
