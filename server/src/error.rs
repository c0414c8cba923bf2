//! What can go wrong serving a prediction, and the one mapping from those errors to gRPC
//! status codes. Handlers return [`ServeError`]; only this module builds `tonic::Status`.

use tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A request field is malformed; `field` names it.
    #[error("{field}: {message}")]
    InvalidArgument { field: &'static str, message: String },
    /// The player has no game in the data before the requested date.
    #[error("player {player_id:?} has no game in the data before {date}")]
    PlayerNotFound { player_id: String, date: String },
    /// A model name/version that this server does not serve (V2 protocol).
    #[error("{0}")]
    ModelNotFound(String),
    /// No model is loaded yet, or the feature store cannot answer.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServeError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        ServeError::InvalidArgument { field, message: message.into() }
    }

    pub fn code(&self) -> Code {
        match self {
            ServeError::InvalidArgument { .. } => Code::InvalidArgument,
            ServeError::PlayerNotFound { .. } | ServeError::ModelNotFound(_) => Code::NotFound,
            ServeError::Unavailable(_) => Code::Unavailable,
            ServeError::TooLarge(_) => Code::ResourceExhausted,
            ServeError::Internal(_) => Code::Internal,
        }
    }
}

impl From<ServeError> for Status {
    fn from(e: ServeError) -> Status {
        Status::new(e.code(), e.to_string())
    }
}

impl From<nba_model::ModelError> for ServeError {
    fn from(e: nba_model::ModelError) -> Self {
        ServeError::Internal(format!("scoring: {e}"))
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
}
