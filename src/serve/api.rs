//! Answers: JSON bodies and seed 000's error format,
//! `{"error": {"code", "message", "details"}}`, with its codes and statuses
//! (and the few more a real server needs, in `docs/serve.md`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use super::pool::PoolError;
use crate::Error;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    /// Seconds to wait before trying again (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: json!({}),
            retry_after: None,
        }
    }

    pub fn details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }

    pub fn time_range(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_TIME_RANGE", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub fn busy() -> ApiError {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "the server is busy; try again shortly",
        );
        e.retry_after = Some(1);
        e
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "the server failed to answer; its log says why",
        )
    }

    pub fn body_too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("the request body is larger than {limit} bytes"),
        )
    }
}

/// A use case's error as an answer. The message of an input error is the
/// user's to read; a failure inside the server is logged, and the caller
/// hears only that it failed.
pub fn from_error(e: &Error) -> ApiError {
    match e {
        Error::Usage { .. } | Error::Git(_) => ApiError::bad_request(e.to_string()),
        Error::NoInput { message, .. } => {
            ApiError::new(StatusCode::NOT_FOUND, "NO_DATA", message.clone())
        }
        // The store was reachable at start: losing it, or a query failing,
        // is the store being unavailable now, not a fault of the request.
        Error::Store(
            StoreError::Open { .. } | StoreError::Unreachable { .. } | StoreError::Query { .. },
        ) => {
            let mut a = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "the store did not answer; try again shortly",
            );
            a.retry_after = Some(5);
            a
        }
        _ => ApiError::internal(),
    }
}

impl From<PoolError> for ApiError {
    fn from(e: PoolError) -> ApiError {
        match e {
            PoolError::Busy => ApiError::busy(),
            PoolError::Closed => {
                let mut a = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "UNAVAILABLE",
                    "the store is not available; try again shortly",
                );
                a.retry_after = Some(5);
                a
            }
            PoolError::Failed(e) => {
                let a = from_error(&e);
                if a.status.is_server_error() {
                    log_failure(&e);
                }
                a
            }
        }
    }
}

/// A server-side failure on stderr, as the CLI renders errors (the chain,
/// credentials already redacted by the store's descriptions).
pub fn log_failure(e: &Error) {
    let line = json!({
        "level": "error",
        "ts": crate::time::format_time(chrono::Utc::now()),
        "error": crate::error::chain(e),
    });
    super::log_line(&line.to_string());
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {"code": self.code, "message": self.message, "details": self.details}
        });
        let mut r = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

/// A JSON body, serialised with serde_json (no panics, a plain 500 if a
/// value cannot be written).
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;
