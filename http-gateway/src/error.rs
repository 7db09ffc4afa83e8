//! `ApiError`, the gateway's one error type, and the one table from errors to HTTP status codes.
//! Bodies are plain text with Nomad's message, and every error names its stable code in the
//! `X-Stowage-Error` header. Only the status codes differ from Nomad, which answers 500 for most
//! refusals: here 400 is bad input, 404 not found, 409 a conflict with the current state, 503 no
//! leader (nothing written), 504 an outcome that is unknown, 507 a full disk (nothing written).
//! The README lists each difference.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use stowage_proto::api::{CsiError, ERROR_HEADER, ErrorCode};
use stowage_proto::{ClusterError, DomainError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The request could not be read (a bad query parameter or body): nothing was written.
    #[error("{0}")]
    BadRequest(String),
    /// An unknown path or `type`: Nomad's «resource not found».
    #[error("resource not found")]
    NoRoute,
    /// A read found nothing, with Nomad's text for that endpoint.
    #[error("{text}")]
    NotFound { text: &'static str, code: ErrorCode },
    #[error("Invalid method")]
    InvalidMethod,
    #[error("Request body too large")]
    TooLarge,
    /// The body did not arrive in time: nothing was read or written.
    #[error("Request body not received in time")]
    BodyTimeout,
    /// The client already holds as many connections to this node as it may.
    #[error("Too many connections from {ip}: this node allows {limit} per client address")]
    TooManyConnections { ip: std::net::IpAddr, limit: usize },
    /// Needs a call to a CSI controller plugin, which this service does not make yet.
    #[error("{0}")]
    NotImplemented(String),
    /// What the CSI endpoint refused or could not finish.
    #[error(transparent)]
    Csi(#[from] CsiError),
}

impl ApiError {
    /// The one error→status table.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NoRoute | ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::InvalidMethod => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooManyConnections { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Csi(CsiError::TooManyWatchers { .. }) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Csi(CsiError::DiskFull { .. }) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Csi(CsiError::Invalid(_) | CsiError::AclDisabled) => StatusCode::BAD_REQUEST,
            ApiError::Csi(CsiError::PermissionDenied) => StatusCode::FORBIDDEN,
            ApiError::Csi(CsiError::Domain(e)) => match e {
                DomainError::VolumeNotFound { .. }
                | DomainError::NoSuchVolume { .. }
                | DomainError::PluginNotFound { .. }
                | DomainError::NamespaceNotFound { .. } => StatusCode::NOT_FOUND,
                // Nomad answers a token write or delete naming a missing token with 400.
                DomainError::AclTokenMissing { .. }
                | DomainError::AclTokensMissing { .. }
                | DomainError::NamespaceMissing { .. }
                | DomainError::DefaultNamespace
                | DomainError::AclBootstrapped { .. }
                | DomainError::BootstrapResetMismatch { .. }
                | DomainError::AclTokenUnchangeable(_) => StatusCode::BAD_REQUEST,
                DomainError::VolumeInUse { .. }
                | DomainError::UpdateRefused { .. }
                | DomainError::AlreadyExists { .. }
                | DomainError::ClaimRefused { .. }
                | DomainError::IndexMismatch { .. }
                | DomainError::NamespaceInUse { .. }
                | DomainError::AclTokenExists => StatusCode::CONFLICT,
                DomainError::PermissionDenied => StatusCode::FORBIDDEN,
            },
            ApiError::Csi(CsiError::Cluster(e)) => match e {
                // "Not leader" never escapes the forwarder; if it did, there was no usable leader.
                ClusterError::NoLeader | ClusterError::NotLeader | ClusterError::Stopped(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                ClusterError::OutcomeUnknown(_) => StatusCode::GATEWAY_TIMEOUT,
                ClusterError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::InvalidRequest,
            ApiError::NoRoute => ErrorCode::NoRoute,
            ApiError::NotFound { code, .. } => *code,
            ApiError::InvalidMethod => ErrorCode::InvalidMethod,
            ApiError::TooLarge => ErrorCode::BodyTooLarge,
            ApiError::BodyTimeout => ErrorCode::RequestTimeout,
            ApiError::TooManyConnections { .. } => ErrorCode::TooManyConnections,
            ApiError::NotImplemented(_) => ErrorCode::NotImplemented,
            ApiError::Csi(e) => e.code(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut resp = (status, self.to_string()).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(ERROR_HEADER, HeaderValue::from_static(self.code().as_str()));
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
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
