//! Entry points for the fuzz targets in `fuzz/` (outside the workspace and
//! CI) and for the regression tests of what they found. Not part of the
//! supported API.

use crate::request::QueryRequest;

/// Parses `body` as a `POST /query` body. A rejected body must give a
/// 4xx answer whose bytes are a JSON error object; any outcome but a
/// panic (or a stack overflow) is otherwise fine.
pub fn parse_body(body: &[u8]) {
    if let Err(e) = QueryRequest::parse(body) {
        assert!(e.status.is_client_error(), "{}: {}", e.status, e.message);
        let answer: serde_json::Value =
            serde_json::from_slice(&e.to_body()).unwrap_or(serde_json::Value::Null);
        assert_eq!(answer["success"], serde_json::Value::Bool(false));
        assert!(answer["error"]["code"].is_string());
        assert!(answer["error"]["message"].is_string());
    }
}
