//! Decoders of client input that arrives as data rather than as protobuf fields: Arrow
//! Flight record batches (`DoExchange` `["requests"]` and `["features"]`) and KServe V2
//! tensors (`ModelInfer`). Each turns what a client sent into plain values, or an error
//! naming the column, row or field at fault; scoring is left to the callers (nba-server's
//! `flight` and `grpc::inference` modules), which map the errors to `INVALID_ARGUMENT`.
//!
//! Only std, arrow, `nba-features` and thiserror are used here, never tonic: the fuzz
//! targets in `fuzz/` call these very functions without building the gRPC stack (see
//! docs/reliability.md).

use arrow_array::{Array, ArrayRef, BooleanArray, Float32Array, Float64Array, ListArray, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field};
use nba_features::N_FEATURES;
use std::sync::Arc;

/// Why a Flight record batch cannot be scored. The text is the `INVALID_ARGUMENT` message.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("missing column {0:?}")]
    MissingColumn(String),
    #[error("column {name:?} of type {from} cannot be read as {to}: {source}")]
    Cast { name: String, from: DataType, to: DataType, source: ArrowError },
    #[error("row {row}: feature {feature:?} is infinite")]
    InfiniteFeature { row: usize, feature: String },
    #[error("batch of {rows} rows; at most {max} per batch")]
    TooManyRows { rows: usize, max: usize },
    #[error("column {name:?} of type {from} is not a list (a list of player ids is expected)")]
    NotAList { name: String, from: DataType },
}

/// A column cast to `to`, or an error naming it. Casts are unsafe in Arrow's sense: a value
/// that does not convert is an error, not a silent null.
pub fn column(b: &RecordBatch, name: &str, to: &DataType, required: bool) -> Result<Option<ArrayRef>, BatchError> {
    match b.column_by_name(name) {
        None if required => Err(BatchError::MissingColumn(name.to_string())),
        None => Ok(None),
        Some(c) => arrow_cast::cast_with_options(c, to, &arrow_cast::CastOptions { safe: false, ..Default::default() })
            .map(Some)
            .map_err(|source| BatchError::Cast { name: name.to_string(), from: c.data_type().clone(), to: to.clone(), source }),
    }
}

/// A required column cast to `T`'s type.
fn required<T: Array + Clone + 'static>(b: &RecordBatch, name: &str, to: DataType) -> Result<T, BatchError> {
    let c = column(b, name, &to, true)?.ok_or_else(|| BatchError::MissingColumn(name.to_string()))?;
    Ok(downcast(&c))
}

/// An optional column cast to `T`'s type.
fn optional<T: Array + Clone + 'static>(b: &RecordBatch, name: &str, to: DataType) -> Result<Option<T>, BatchError> {
    Ok(column(b, name, &to, false)?.map(|c| downcast(&c)))
}

fn downcast<T: Array + Clone + 'static>(a: &ArrayRef) -> T {
    // Only called on arrays that `column` has just cast to T's data type.
    a.as_any().downcast_ref::<T>().cloned().unwrap_or_else(|| unreachable!("cast to {}", a.data_type()))
}

/// One row of a `["requests"]` batch, as the fields of a `PredictRequest`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RequestRow {
    pub player_id: String,
    pub game_date: String,
    pub opponent: String,
    pub is_home: bool,
    pub team: Option<String>,
    pub line: Option<f64>,
    /// The request-time lists (player ids): `None` when the column is absent or the row's
    /// value is null ("not given"), `Some(vec![])` for an empty list ("known: nobody").
    pub team_inactive: Option<Vec<String>>,
    pub opponent_inactive: Option<Vec<String>>,
    pub team_starters: Option<Vec<String>>,
    pub opponent_starters: Option<Vec<String>>,
    /// Null or absent reads as false.
    pub ignore_stored: bool,
}

/// The optional list columns of a `["requests"]` batch, in `RequestRow` order.
pub const REQUEST_LIST_COLUMNS: [&str; 4] = ["team_inactive", "opponent_inactive", "team_starters", "opponent_starters"];

/// The type list columns are read as: `List<Utf8>` (any list of strings casts to it:
/// `LargeList`, `LargeUtf8` or `Utf8View` items, another item field name).
pub fn player_list_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

/// The columns of a `["requests"]` batch, checked and cast once; rows are read one by one
/// so that a batch is never held twice in memory.
#[derive(Debug, Clone)]
pub struct RequestColumns {
    player: StringArray,
    date: StringArray,
    opponent: StringArray,
    home: BooleanArray,
    line: Option<Float64Array>,
    team: Option<StringArray>,
    lists: [Option<ListArray>; 4],
    ignore_stored: Option<BooleanArray>,
}

impl RequestColumns {
    /// `player_id`, `game_date`, `opponent` and `is_home` are required; `line`, `team`,
    /// the four lists (`REQUEST_LIST_COLUMNS`) and `ignore_stored` optional; each is cast
    /// (so `LargeUtf8`, `Utf8View`, `Date32`, `LargeList`... are accepted).
    pub fn read(b: &RecordBatch) -> Result<RequestColumns, BatchError> {
        let list = |name: &str| {
            // Arrow would cast a scalar to a list of one; a list column must be a list.
            match b.column_by_name(name).map(|c| c.data_type()) {
                Some(DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) | DataType::ListView(_) | DataType::LargeListView(_)) | None => {}
                Some(other) => return Err(BatchError::NotAList { name: name.to_string(), from: other.clone() }),
            }
            optional::<ListArray>(b, name, player_list_type())
        };
        Ok(RequestColumns {
            player: required(b, "player_id", DataType::Utf8)?,
            date: required(b, "game_date", DataType::Utf8)?,
            opponent: required(b, "opponent", DataType::Utf8)?,
            home: required(b, "is_home", DataType::Boolean)?,
            line: optional(b, "line", DataType::Float64)?,
            team: optional(b, "team", DataType::Utf8)?,
            lists: [list(REQUEST_LIST_COLUMNS[0])?, list(REQUEST_LIST_COLUMNS[1])?, list(REQUEST_LIST_COLUMNS[2])?, list(REQUEST_LIST_COLUMNS[3])?],
            ignore_stored: optional(b, "ignore_stored", DataType::Boolean)?,
        })
    }

    pub fn len(&self) -> usize {
        self.player.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`, or the message of a row that cannot be a request (a null key, a null id
    /// inside a list). Rows are validated as requests later, by the predictor.
    pub fn row(&self, i: usize) -> Result<RequestRow, String> {
        let nulls: Vec<&str> = [
            ("player_id", self.player.is_null(i)),
            ("game_date", self.date.is_null(i)),
            ("opponent", self.opponent.is_null(i)),
            ("is_home", self.home.is_null(i)),
        ]
        .into_iter()
        .filter(|(_, null)| *null)
        .map(|(n, _)| n)
        .collect();
        if !nulls.is_empty() {
            return Err(format!("row {i}: null {}", nulls.join(", ")));
        }
        let mut lists: [Option<Vec<String>>; 4] = Default::default();
        for ((out, col), name) in lists.iter_mut().zip(&self.lists).zip(REQUEST_LIST_COLUMNS) {
            *out = list_at(col.as_ref(), i).map_err(|()| format!("row {i}: {name} holds a null player id"))?;
        }
        let [team_inactive, opponent_inactive, team_starters, opponent_starters] = lists;
        Ok(RequestRow {
            player_id: self.player.value(i).to_string(),
            game_date: self.date.value(i).to_string(),
            opponent: self.opponent.value(i).to_string(),
            is_home: self.home.value(i),
            team: self.team.as_ref().filter(|t| !t.is_null(i)).map(|t| t.value(i).to_string()),
            line: self.line.as_ref().filter(|l| !l.is_null(i)).map(|l| l.value(i)),
            team_inactive,
            opponent_inactive,
            team_starters,
            opponent_starters,
            ignore_stored: self.ignore_stored.as_ref().is_some_and(|c| c.is_valid(i) && c.value(i)),
        })
    }
}

/// Row `i` of a list column (already cast to `player_list_type`): `None` when the column
/// is absent or the row is null, `Err` when an id in the list is null.
fn list_at(col: Option<&ListArray>, i: usize) -> Result<Option<Vec<String>>, ()> {
    let Some(col) = col.filter(|c| c.is_valid(i)) else { return Ok(None) };
    let items = col.value(i);
    let ids = items.as_any().downcast_ref::<StringArray>().ok_or(())?;
    ids.iter().map(|id| id.map(str::to_string).ok_or(())).collect::<Result<Vec<_>, ()>>().map(Some)
}

/// The contract's columns of a `["features"]` batch (found by name, in contract order),
/// checked: present, Float32 after a cast, no infinite value (NaN means missing,
/// infinity is not a feature value).
#[derive(Debug)]
pub struct FeatureColumns {
    cols: Vec<Float32Array>,
}

impl FeatureColumns {
    pub fn of(b: &RecordBatch, names: &[String]) -> Result<FeatureColumns, BatchError> {
        let rows = b.num_rows();
        let cols = names.iter().map(|name| required::<Float32Array>(b, name, DataType::Float32)).collect::<Result<Vec<_>, _>>()?;
        for (c, name) in cols.iter().zip(names) {
            // A branch-free scan first (it vectorizes); the position only on a hit.
            if c.values().iter().fold(false, |inf, v| inf | v.is_infinite()) {
                // (A null slot may hold anything; only valid values count.)
                if let Some(row) = (0..rows).find(|&i| c.is_valid(i) && c.value(i).is_infinite()) {
                    return Err(BatchError::InfiniteFeature { row, feature: name.clone() });
                }
            }
        }
        Ok(FeatureColumns { cols })
    }

    /// Each column's values in contract order, a null read as NaN (missing): null-free
    /// columns (the usual case) borrowed from the batch, the others copied.
    pub fn values(&self) -> Vec<std::borrow::Cow<'_, [f32]>> {
        self.cols
            .iter()
            .map(|c| {
                if c.null_count() == 0 {
                    std::borrow::Cow::Borrowed(&c.values()[..])
                } else {
                    std::borrow::Cow::Owned(c.iter().map(|v| v.unwrap_or(f32::NAN)).collect())
                }
            })
            .collect()
    }
}

/// Why a V2 input tensor is refused: the field at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TensorError {
    pub field: &'static str,
    pub message: String,
}

fn tensor_error(field: &'static str, message: impl Into<String>) -> TensorError {
    TensorError { field, message: message.into() }
}

/// The parts of a `ModelInferRequest` that carry its one input tensor.
#[derive(Debug, Clone, Copy)]
pub struct TensorInput<'a> {
    pub datatype: &'a str,
    pub shape: &'a [i64],
    /// `raw_input_contents[0]`, when the request uses raw contents.
    pub raw: Option<&'a [u8]>,
    /// `inputs[0].contents.fp32_contents` (empty when absent).
    pub fp32: &'a [f32],
}

/// A decoded input tensor: `rows` feature rows back to back.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub rows: usize,
    pub data: Vec<f32>,
    /// The input came as raw bytes, so the output goes back the same way.
    pub raw: bool,
}

/// Decodes a V2 input tensor: FP32, shape `[N, N_FEATURES]` (or `[N_FEATURES]`), `1 <= N <= max_rows`, raw
/// little-endian bytes or typed contents of exactly that many values, no infinity.
pub fn tensor(input: TensorInput<'_>, max_rows: usize) -> Result<Tensor, TensorError> {
    if input.datatype != "FP32" {
        return Err(tensor_error("inputs[0].datatype", format!("expected FP32, got {:?}", input.datatype)));
    }
    let rows = match input.shape {
        [n, w] if *w == N_FEATURES as i64 && *n >= 1 => usize::try_from(*n).unwrap_or(usize::MAX),
        [w] if *w == N_FEATURES as i64 => 1,
        other => return Err(tensor_error("inputs[0].shape", format!("expected [N, {N_FEATURES}], got {other:?}"))),
    };
    if rows > max_rows {
        return Err(tensor_error("inputs[0].shape", format!("{rows} rows; at most {max_rows} per call")));
    }
    // No overflow: rows <= max_rows, a configured limit in the thousands.
    let want = rows.saturating_mul(N_FEATURES);
    let data: Vec<f32> = match input.raw {
        Some(bytes) => {
            if bytes.len() / 4 != want || bytes.len() % 4 != 0 {
                return Err(tensor_error(
                    "raw_input_contents[0]",
                    format!("{} bytes for shape [{rows}, {N_FEATURES}] FP32 (want {})", bytes.len(), want.saturating_mul(4)),
                ));
            }
            bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
        }
        None => {
            if input.fp32.len() != want {
                return Err(tensor_error(
                    "inputs[0].contents.fp32_contents",
                    format!("{} values for shape [{rows}, {N_FEATURES}] (want {want})", input.fp32.len()),
                ));
            }
            input.fp32.to_vec()
        }
    };
    if data.iter().any(|v| v.is_infinite()) {
        return Err(tensor_error("inputs[0]", "infinite feature value (NaN means missing; inf is not a feature value)"));
    }
    Ok(Tensor { rows, data, raw: input.raw.is_some() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::Schema;

    fn batch(fields: Vec<Field>, cols: Vec<ArrayRef>) -> RecordBatch {
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
    }

    #[test]
    fn request_rows_cast_and_report_nulls() {
        let b = batch(
            vec![
                Field::new("player_id", DataType::LargeUtf8, true),
                Field::new("game_date", DataType::Utf8, false),
                Field::new("opponent", DataType::Utf8, false),
                Field::new("is_home", DataType::Boolean, true),
                Field::new("line", DataType::Int32, true),
            ],
            vec![
                Arc::new(arrow_array::LargeStringArray::from(vec![Some("jamesle01"), None])),
                Arc::new(StringArray::from(vec!["2024-03-05", "2024-03-05"])),
                Arc::new(StringArray::from(vec!["BOS", "BOS"])),
                Arc::new(BooleanArray::from(vec![Some(true), None])),
                Arc::new(arrow_array::Int32Array::from(vec![Some(24), None])),
            ],
        );
        let cols = RequestColumns::read(&b).unwrap();
        assert_eq!(cols.len(), 2);
        let first = cols.row(0).unwrap();
        assert_eq!((first.player_id.as_str(), first.is_home, first.line, first.team), ("jamesle01", true, Some(24.0), None));
        assert_eq!(cols.row(1).unwrap_err(), "row 1: null player_id, is_home");
    }

    /// Lists: an absent column and a null row are "not given", an empty list is "known:
    /// nobody"; a null id in a list is the row's error; other list types cast.
    #[test]
    fn request_lists_tell_not_given_from_empty() {
        use arrow_array::builder::{LargeStringBuilder, ListBuilder, StringBuilder};
        let mut inactive = ListBuilder::new(StringBuilder::new());
        inactive.append_value([Some("embiijo01"), Some("harrito02")]);
        inactive.append_value(Vec::<Option<&str>>::new());
        inactive.append_null();
        inactive.append_value([Some("x"), None]);
        let inactive = inactive.finish();
        // The starters as pyarrow's large_list(large_string) would send them.
        let mut starters = arrow_array::builder::LargeListBuilder::new(LargeStringBuilder::new());
        starters.append_value([Some("a"), Some("b"), Some("c"), Some("d"), Some("e")]);
        starters.append_null();
        starters.append_value(Vec::<Option<&str>>::new());
        starters.append_null();
        let starters = starters.finish();
        let keys = |v: &str| Arc::new(StringArray::from(vec![v; 4])) as ArrayRef;
        let b = batch(
            vec![
                Field::new("player_id", DataType::Utf8, false),
                Field::new("game_date", DataType::Utf8, false),
                Field::new("opponent", DataType::Utf8, false),
                Field::new("is_home", DataType::Boolean, false),
                Field::new("team_inactive", inactive.data_type().clone(), true),
                Field::new("opponent_starters", starters.data_type().clone(), true),
                Field::new("ignore_stored", DataType::Boolean, true),
            ],
            vec![
                keys("maxeyty01"),
                keys("2023-10-26"),
                keys("MIL"),
                Arc::new(BooleanArray::from(vec![false; 4])),
                Arc::new(inactive),
                Arc::new(starters),
                Arc::new(BooleanArray::from(vec![Some(true), None, Some(false), Some(true)])),
            ],
        );
        let cols = RequestColumns::read(&b).unwrap();
        let r0 = cols.row(0).unwrap();
        assert_eq!(r0.team_inactive, Some(vec!["embiijo01".to_string(), "harrito02".to_string()]));
        assert_eq!(r0.opponent_starters.as_ref().map(Vec::len), Some(5));
        assert_eq!((r0.opponent_inactive, r0.team_starters, r0.ignore_stored), (None, None, true), "absent columns: not given");
        let r1 = cols.row(1).unwrap();
        assert_eq!((r1.team_inactive, r1.opponent_starters, r1.ignore_stored), (Some(vec![]), None, false), "empty list: known; null: not given");
        let r2 = cols.row(2).unwrap();
        assert_eq!((r2.team_inactive, r2.opponent_starters), (None, Some(vec![])));
        assert_eq!(cols.row(3).unwrap_err(), "row 3: team_inactive holds a null player id");
        // Not a list of strings: the column is named.
        let b = batch(
            vec![
                Field::new("player_id", DataType::Utf8, false),
                Field::new("game_date", DataType::Utf8, false),
                Field::new("opponent", DataType::Utf8, false),
                Field::new("is_home", DataType::Boolean, false),
                Field::new("team_starters", DataType::Float64, true),
            ],
            vec![
                keys("a").slice(0, 1),
                keys("b").slice(0, 1),
                keys("c").slice(0, 1),
                Arc::new(BooleanArray::from(vec![true])),
                Arc::new(Float64Array::from(vec![1.0])),
            ],
        );
        let e = RequestColumns::read(&b).unwrap_err().to_string();
        assert_eq!(e, "column \"team_starters\" of type Float64 is not a list (a list of player ids is expected)");
    }

    #[test]
    fn batch_errors_name_the_column() {
        let b = batch(vec![Field::new("player_id", DataType::Utf8, false)], vec![Arc::new(StringArray::from(vec!["x"]))]);
        assert_eq!(RequestColumns::read(&b).unwrap_err().to_string(), "missing column \"game_date\"");
        let names = vec!["a".to_string(), "b".to_string()];
        let b = batch(
            vec![Field::new("a", DataType::Float64, true), Field::new("b", DataType::Utf8, true)],
            vec![Arc::new(Float64Array::from(vec![1.0])), Arc::new(StringArray::from(vec!["abc"]))],
        );
        let e = FeatureColumns::of(&b, &names).unwrap_err().to_string();
        assert!(e.starts_with("column \"b\" of type Utf8 cannot be read as Float32"), "{e}");
        let b = batch(
            vec![Field::new("a", DataType::Float64, true), Field::new("b", DataType::Float32, true)],
            vec![Arc::new(Float64Array::from(vec![Some(1.0), None])), Arc::new(Float32Array::from(vec![Some(2.0), Some(f32::NEG_INFINITY)]))],
        );
        assert_eq!(FeatureColumns::of(&b, &names).unwrap_err().to_string(), "row 1: feature \"b\" is infinite");
    }

    #[test]
    fn feature_columns_are_in_contract_order_with_nan_for_null() {
        let names = vec!["a".to_string(), "b".to_string()];
        let b = batch(
            vec![Field::new("b", DataType::Float32, true), Field::new("a", DataType::Int64, true), Field::new("key", DataType::Utf8, true)],
            vec![
                Arc::new(Float32Array::from(vec![Some(2.0), None])),
                Arc::new(arrow_array::Int64Array::from(vec![1, 3])),
                Arc::new(StringArray::from(vec!["k1", "k2"])),
            ],
        );
        let cols = FeatureColumns::of(&b, &names).unwrap();
        let x = cols.values();
        assert_eq!(&x[0][..], &[1.0, 3.0]);
        assert_eq!(x[1][0], 2.0);
        assert!(x[1][1].is_nan());
    }

    /// A null reads as NaN, and an infinity hidden in a null slot is not a value.
    #[test]
    fn feature_columns_read_nulls_as_nan_and_ignore_null_slots() {
        let names = vec!["a".to_string(), "b".to_string()];
        let n = 300;
        let a: Vec<Option<f32>> = (0..n).map(|i| (i % 7 != 0).then_some(i as f32)).collect();
        // Column b's validity (every 5th row null), taken from an array built with it.
        let nulls = Float32Array::from((0..n).map(|i| (i % 5 != 0).then_some(0.0)).collect::<Vec<_>>()).nulls().cloned();
        let b_values: Vec<f32> = (0..n).map(|i| if i % 5 == 0 { f32::INFINITY } else { -(i as f32) }).collect();
        let b = batch(
            vec![Field::new("a", DataType::Float32, true), Field::new("b", DataType::Float32, true)],
            vec![Arc::new(Float32Array::from(a)), Arc::new(Float32Array::new(b_values.into(), nulls))],
        );
        let cols = FeatureColumns::of(&b, &names).unwrap();
        let values = cols.values();
        let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let want_a: Vec<f32> = (0..n).map(|i| if i % 7 == 0 { f32::NAN } else { i as f32 }).collect();
        let want_b: Vec<f32> = (0..n).map(|i| if i % 5 == 0 { f32::NAN } else { -(i as f32) }).collect();
        assert_eq!(bits(&values[0]), bits(&want_a), "column a");
        assert_eq!(bits(&values[1]), bits(&want_b), "column b");
        assert!(values[0][0].is_nan() && values[1][0].is_nan(), "row 0: null a, null b (holding inf)");
        assert_eq!((values[0][1], values[1][1]), (1.0, -1.0));
        assert!(matches!(values[0], std::borrow::Cow::Owned(_)), "a column with nulls is copied");
        let clean = batch(
            vec![Field::new("a", DataType::Float32, false), Field::new("b", DataType::Float32, false)],
            vec![Arc::new(Float32Array::from(vec![1.0f32, 2.0])), Arc::new(Float32Array::from(vec![3.0f32, 4.0]))],
        );
        let cols = FeatureColumns::of(&clean, &names).unwrap();
        assert!(cols.values().iter().all(|c| matches!(c, std::borrow::Cow::Borrowed(_))), "null-free columns are read in place");
    }

    #[test]
    fn tensors() {
        let row: Vec<f32> = (0..N_FEATURES).map(|i| i as f32).collect();
        let raw: Vec<u8> = row.iter().flat_map(|v| v.to_le_bytes()).collect();
        let shape = [1, N_FEATURES as i64];
        let ok = tensor(TensorInput { datatype: "FP32", shape: &shape, raw: Some(&raw), fp32: &[] }, 10).unwrap();
        assert_eq!((ok.rows, ok.raw, ok.data.as_slice()), (1, true, row.as_slice()));
        let typed = tensor(TensorInput { datatype: "FP32", shape: &[N_FEATURES as i64], raw: None, fp32: &row }, 10).unwrap();
        assert_eq!((typed.rows, typed.raw), (1, false));
        let err = |input: TensorInput<'_>, max| tensor(input, max).unwrap_err().field;
        assert_eq!(err(TensorInput { datatype: "FP64", shape: &shape, raw: None, fp32: &row }, 10), "inputs[0].datatype");
        assert_eq!(err(TensorInput { datatype: "FP32", shape: &[1, N_FEATURES as i64 - 1], raw: None, fp32: &row }, 10), "inputs[0].shape");
        assert_eq!(err(TensorInput { datatype: "FP32", shape: &[0, N_FEATURES as i64], raw: None, fp32: &[] }, 10), "inputs[0].shape");
        assert_eq!(err(TensorInput { datatype: "FP32", shape: &[i64::MAX, N_FEATURES as i64], raw: None, fp32: &[] }, 10), "inputs[0].shape");
        assert_eq!(err(TensorInput { datatype: "FP32", shape: &[2, N_FEATURES as i64], raw: None, fp32: &row }, 10), "inputs[0].contents.fp32_contents");
        assert_eq!(err(TensorInput { datatype: "FP32", shape: &shape, raw: Some(&raw[1..]), fp32: &[] }, 10), "raw_input_contents[0]");
        let mut inf = row.clone();
        inf[7] = f32::INFINITY;
        assert_eq!(err(TensorInput { datatype: "FP32", shape: &shape, raw: None, fp32: &inf }, 10), "inputs[0]");
    }
}
