//! `ApiError`, the gateway's one error type, and the one table from errors to HTTP status codes.
//! Bodies are plain text with Nomad's message; only the status codes differ from Nomad's 500s
//! (Part A D2; the README lists each difference).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use stowage_proto::{ClusterError, DomainError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Malformed input: a bad query parameter, body or field. Nothing was written.
    #[error("{0}")]
    BadRequest(String),
    /// An unknown path or `type`: Nomad's «resource not found».
    #[error("resource not found")]
    NoRoute,
    /// A missing record, with Nomad's text for that endpoint.
    #[error("{0}")]
    NotFound(String),
    #[error("Invalid method")]
    InvalidMethod,
    /// The request conflicts with the current state (in use, immutable field, `cas` mismatch).
    #[error("{0}")]
    Conflict(String),
    #[error("Request body too large")]
    TooLarge,
    /// Needs a call to a CSI controller plugin, which this service does not make yet (D14).
    #[error("{0}")]
    NotImplemented(String),
    /// No leader within the hold time; nothing was written.
    #[error("No cluster leader")]
    NoLeader,
    /// This node cannot serve right now (its Raft core stopped); nothing was written.
    #[error("{0}")]
    Unavailable(String),
    /// The write was sent but its fate is unknown: it may or may not have been applied.
    #[error("{0}")]
    OutcomeUnknown(String),
    /// A fault of this server.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The one error→status table.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NoRoute | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::InvalidMethod => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::NoLeader | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::OutcomeUnknown(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let text = e.to_string();
        match e {
            DomainError::VolumeNotFound { .. }
            | DomainError::NoSuchVolume { .. }
            | DomainError::PluginNotFound { .. } => ApiError::NotFound(text),
            DomainError::NamespaceMissing { .. } => ApiError::BadRequest(text),
            DomainError::VolumeInUse { .. }
            | DomainError::UpdateRefused { .. }
            | DomainError::AlreadyExists { .. }
            | DomainError::ClaimRefused { .. }
            | DomainError::IndexMismatch { .. } => ApiError::Conflict(text),
        }
    }
}

impl From<ClusterError> for ApiError {
    fn from(e: ClusterError) -> Self {
        match e {
            // "Not leader" never escapes the forwarder; if it did, it means no usable leader.
            ClusterError::NoLeader | ClusterError::NotLeader => ApiError::NoLeader,
            ClusterError::OutcomeUnknown(m) => {
                ApiError::OutcomeUnknown(format!("outcome unknown: {m}"))
            }
            ClusterError::Stopped(m) => ApiError::Unavailable(format!("raft stopped: {m}")),
            ClusterError::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status(), self.to_string()).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if matches!(self, ApiError::NoLeader | ApiError::Unavailable(_)) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

pub(crate) async fn no_route() -> ApiError {
    ApiError::NoRoute
}

pub(crate) async fn invalid_method() -> ApiError {
    ApiError::InvalidMethod
}
