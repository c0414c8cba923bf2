//! What can go wrong serving a prediction, and the one mapping from those errors to gRPC
//! status codes. Handlers of every service (`nba.predict.v1`, KServe V2, Arrow Flight)
//! return [`ServeError`]; only this module builds `tonic::Status`.

use arrow_flight::error::FlightError;
use nba_api::decode::BatchError;
use tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A request field is malformed; `field` names it.
    #[error("{field}: {message}")]
    InvalidArgument { field: &'static str, message: String },
    /// Input that is not a valid request where no single field is at fault: a Flight
    /// descriptor or ticket that names no flight, a message that is not Arrow IPC, a row
    /// with a null key.
    #[error("{0}")]
    InvalidInput(String),
    /// A Flight record batch that cannot be scored: a missing column, a value that does
    /// not convert, or more rows than `--max-flight-batch` (RESOURCE_EXHAUSTED).
    #[error(transparent)]
    BadBatch(Box<BatchError>),
    /// The player has no game in the data before the requested date.
    #[error("player {player_id:?} has no game in the data before {date}")]
    PlayerNotFound { player_id: String, date: String },
    /// A model name/version that this server does not serve (V2 protocol).
    #[error("{0}")]
    ModelNotFound(String),
    /// A slate was asked for a day without scheduled games.
    #[error("no games scheduled on {date}")]
    NoGamesScheduled { date: chrono::NaiveDate },
    /// No model is loaded yet, or the feature store cannot answer.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    TooLarge(String),
    /// A Flight exchange that made no progress for `--flight-stall-secs`; the message
    /// says what it waited for.
    #[error("{0}")]
    Stalled(String),
    /// A call this server does not offer; the message says what to use instead.
    #[error("{0}")]
    Unimplemented(&'static str),
    /// A missing or wrong bearer token.
    #[error("missing or wrong bearer token (authorization: Bearer ...)")]
    Unauthenticated,
    /// The call's own stream failed (the client went away, a transport error), or a
    /// status already sent on it is passed on: its status, unchanged.
    #[error("{}", .0.message())]
    Stream(Box<Status>),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServeError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        ServeError::InvalidArgument { field, message: message.into() }
    }

    pub fn code(&self) -> Code {
        match self {
            ServeError::InvalidArgument { .. } | ServeError::InvalidInput(_) => Code::InvalidArgument,
            ServeError::BadBatch(e) => match **e {
                BatchError::TooManyRows { .. } => Code::ResourceExhausted,
                _ => Code::InvalidArgument,
            },
            ServeError::PlayerNotFound { .. } | ServeError::ModelNotFound(_) | ServeError::NoGamesScheduled { .. } => Code::NotFound,
            ServeError::Unavailable(_) => Code::Unavailable,
            ServeError::TooLarge(_) => Code::ResourceExhausted,
            ServeError::Stalled(_) => Code::DeadlineExceeded,
            ServeError::Unimplemented(_) => Code::Unimplemented,
            ServeError::Unauthenticated => Code::Unauthenticated,
            ServeError::Stream(s) => s.code(),
            ServeError::Internal(_) => Code::Internal,
        }
    }

    /// An error of the Arrow Flight decoder reading a client's messages: the client's
    /// input, so INVALID_ARGUMENT, unless the stream itself failed.
    pub fn flight_input(e: FlightError) -> Self {
        match e {
            FlightError::Tonic(status) => ServeError::Stream(status),
            FlightError::Arrow(e) => ServeError::InvalidInput(format!("a message is not valid Arrow IPC: {e}")),
            FlightError::DecodeError(m) | FlightError::ProtocolError(m) => ServeError::InvalidInput(format!("a message is not valid Arrow Flight: {m}")),
            other => ServeError::Internal(format!("reading the Flight stream: {other}")),
        }
    }

    /// An error of the Arrow Flight encoder writing answers: ours, unless it is the status
    /// of an error already on its way to the client.
    pub fn flight_output(e: FlightError) -> Self {
        match e {
            FlightError::Tonic(status) => ServeError::Stream(status),
            other => ServeError::Internal(format!("encoding the answer: {other}")),
        }
    }
}

impl From<ServeError> for Status {
    fn from(e: ServeError) -> Status {
        match e {
            ServeError::Stream(status) => *status,
            e => Status::new(e.code(), e.to_string()),
        }
    }
}

/// Arrow Flight's streams carry `FlightError`; a served error travels in it as its status.
impl From<ServeError> for FlightError {
    fn from(e: ServeError) -> FlightError {
        FlightError::Tonic(Box::new(Status::from(e)))
    }
}

impl From<BatchError> for ServeError {
    fn from(e: BatchError) -> Self {
        ServeError::BadBatch(Box::new(e))
    }
}

impl From<nba_model::ModelError> for ServeError {
    fn from(e: nba_model::ModelError) -> Self {
        ServeError::Internal(format!("scoring: {e}"))
    }
}

impl From<arrow_schema::ArrowError> for ServeError {
    /// Arrow errors reach here only while building an answer (the client's batches are
    /// read through [`BatchError`] and [`ServeError::flight_input`]).
    fn from(e: arrow_schema::ArrowError) -> Self {
        ServeError::Internal(format!("building the answer: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_status_code_and_names_the_field() {
        let s: Status = ServeError::invalid("game_date", "not a date: \"2024-13-01\"").into();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().starts_with("game_date: "), "{}", s.message());
        let s: Status = ServeError::PlayerNotFound { player_id: "x".into(), date: "2024-01-01".into() }.into();
        assert_eq!(s.code(), Code::NotFound);
        assert_eq!(Status::from(ServeError::Unavailable("down".into())).code(), Code::Unavailable);
        assert_eq!(Status::from(ServeError::TooLarge("big".into())).code(), Code::ResourceExhausted);
    }

    #[test]
    fn flight_errors_have_their_codes_and_keep_their_messages() {
        let s = Status::from(ServeError::from(BatchError::MissingColumn("game_date".into())));
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(s.message(), "missing column \"game_date\"");
        let s = Status::from(ServeError::from(BatchError::TooManyRows { rows: 11, max: 10 }));
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert_eq!(s.message(), "batch of 11 rows; at most 10 per batch");
        let s = Status::from(ServeError::InvalidInput("ticket \"tomorrow\": expected slate/YYYY-MM-DD".into()));
        assert_eq!((s.code(), s.message()), (Code::InvalidArgument, "ticket \"tomorrow\": expected slate/YYYY-MM-DD"));
        let date = chrono::NaiveDate::from_ymd_opt(2024, 7, 4).unwrap();
        let s = Status::from(ServeError::NoGamesScheduled { date });
        assert_eq!((s.code(), s.message()), (Code::NotFound, "no games scheduled on 2024-07-04"));
        assert_eq!(Status::from(ServeError::Unimplemented("no actions")).code(), Code::Unimplemented);
        assert_eq!(Status::from(ServeError::Unauthenticated).code(), Code::Unauthenticated);
        assert_eq!(Status::from(ServeError::from(arrow_schema::ArrowError::ComputeError("x".into()))).code(), Code::Internal);
    }

    #[test]
    fn flight_decoder_errors_are_the_client_s_and_a_stream_s_status_passes_unchanged() {
        let bad_ipc = ServeError::flight_input(FlightError::Arrow(arrow_schema::ArrowError::ParseError("bad flatbuffer".into())));
        assert_eq!(bad_ipc.code(), Code::InvalidArgument);
        assert!(bad_ipc.to_string().starts_with("a message is not valid Arrow IPC"), "{bad_ipc}");
        assert_eq!(ServeError::flight_input(FlightError::DecodeError("no schema".into())).code(), Code::InvalidArgument);
        let cancelled = ServeError::flight_input(FlightError::Tonic(Box::new(Status::cancelled("client left"))));
        assert_eq!((cancelled.code(), cancelled.to_string()), (Code::Cancelled, "client left".to_string()));
        // A served error sent down a Flight stream comes back out of the encoder as it went in.
        let sent = FlightError::from(ServeError::from(BatchError::TooManyRows { rows: 11, max: 10 }));
        let s = Status::from(ServeError::flight_output(sent));
        assert_eq!((s.code(), s.message()), (Code::ResourceExhausted, "batch of 11 rows; at most 10 per batch"));
        assert_eq!(ServeError::flight_output(FlightError::ProtocolError("x".into())).code(), Code::Internal);
    }
}
