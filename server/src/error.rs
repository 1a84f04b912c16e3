//! The error body of docs/http.md and the HTTP status of each failure:
//! `{"success": false, "error": {"code", "message", "line"?, "column"?,
//! "hint"?}}`. Every failure the server answers — framework-level ones
//! (404, 405, 413) included — goes through [`ApiError`], so clients only
//! ever see this shape.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fasty_query::ErrorCode;
use serde::Serialize;

/// A failed request: the status and the `error` object.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) line: Option<u64>,
    pub(crate) column: Option<u64>,
    pub(crate) hint: Option<String>,
    /// In a transaction request, the 0-based index of the statement that
    /// failed.
    pub(crate) statement: Option<usize>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            line: None,
            column: None,
            hint: None,
            statement: None,
        }
    }

    /// The error of statement `i` of a transaction request.
    pub(crate) fn at_statement(mut self, i: usize) -> Self {
        self.statement = Some(i);
        self
    }

    /// A 400 `bad_request`: the body is valid JSON but not a request.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub(crate) fn not_found() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such route: use POST /query, GET /health, /stats, /metrics, /schema, or POST /admin/checkpoint, /admin/compact, /admin/backup",
        )
    }

    pub(crate) fn method_not_allowed() -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed: /query and /admin/* take POST, /health, /stats, /metrics and /schema take GET",
        )
    }

    pub(crate) fn payload_too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body over the limit of {limit} bytes (--max-body)"),
        )
    }

    pub(crate) fn request_timeout(limit: std::time::Duration) -> Self {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request body did not arrive within {} ms: send it faster or in smaller requests",
                limit.as_millis()
            ),
        )
    }

    pub(crate) fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong token: send Authorization: Bearer <token>",
        )
    }

    pub(crate) fn shutting_down() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down: retry on another server or after restart",
        )
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }

    /// The body bytes.
    pub(crate) fn to_body(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            success: bool,
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            code: &'a str,
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            line: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            column: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            hint: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            statement: Option<usize>,
        }
        let body = Body {
            success: false,
            error: Inner {
                code: self.code,
                message: &self.message,
                line: self.line,
                column: self.column,
                hint: self.hint.as_deref(),
                statement: self.statement,
            },
        };
        // Serialising strings and integers into a Vec cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

impl From<fasty_query::Error> for ApiError {
    /// Query errors are 400s; failures of the storage below (I/O,
    /// corruption, a poisoned database) are the server's, 500; a full disk
    /// is 503 (writes resume once space is freed).
    fn from(e: fasty_query::Error) -> Self {
        let code = e.code();
        let status = match code {
            ErrorCode::StorageError | ErrorCode::Poisoned | ErrorCode::Corruption => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            // Not the request's fault, and over once space is freed.
            ErrorCode::DiskFull => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError {
            status,
            code: code.as_str(),
            message: e.message(),
            line: e.line().map(u64::from),
            column: e.column().map(u64::from),
            hint: e.hint().map(str::to_owned),
            statement: None,
        }
    }
}

impl From<serde_json::Error> for ApiError {
    /// Malformed JSON (`invalid_json`, with the position) or JSON that is
    /// not a request (`bad_request`: a wrong type, a missing field).
    fn from(e: serde_json::Error) -> Self {
        use serde_json::error::Category;
        let code = match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => "invalid_json",
            Category::Data => "bad_request",
        };
        // serde_json's message ends with " at line L column C"; the body
        // carries those as fields.
        let text = e.to_string();
        let message = match text.rfind(" at line ") {
            Some(at) if e.line() > 0 => text[..at].to_string(),
            _ => text,
        };
        let (line, column) = if e.line() > 0 {
            (Some(e.line() as u64), Some(e.column() as u64))
        } else {
            (None, None)
        };
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code,
            message,
            line,
            column,
            hint: None,
            statement: None,
        }
    }
}

/// The error code of a failed response, as an extension of the
/// response, for the error counters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorTag(pub(crate) &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = json_response(self.status, self.to_body());
        res.extensions_mut().insert(ErrorTag(self.code));
        res
    }
}

/// A JSON response with `status` and `body`.
pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}
