//! What every request passes through before and after its route: the
//! shutdown gate (503 while draining), the token check (401), the JSON
//! body for the router's own 405, and the request metrics (scrapes of
//! `/stats` and `/metrics` are not counted, so monitoring does not show
//! up as traffic).

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::{ApiError, ErrorTag};
use crate::metrics::Kind;

/// The middleware around every route.
pub(crate) async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let path = req.uri().path();
    let default_kind = if path == "/query" {
        Kind::Invalid
    } else {
        Kind::Other
    };
    let open = path == "/health";
    let scrape = path == "/stats" || path == "/metrics";
    let _in_flight = (!scrape).then(|| state.metrics.request_started());
    let mut res = match state.lifecycle.enter() {
        None => {
            let mut res = ApiError::shutting_down().into_response();
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            res
        }
        Some(work) => {
            let allowed = open
                || match &state.opts.auth_token {
                    None => true,
                    Some(token) => bearer_matches(req.headers(), token),
                };
            if allowed {
                let res = next.run(req).await;
                drop(work);
                res
            } else {
                let mut res = ApiError::unauthorized().into_response();
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                res
            }
        }
    };
    if res.status() == StatusCode::METHOD_NOT_ALLOWED {
        // The router's own 405 has an empty body; keep its Allow header.
        let allow = res.headers().get(header::ALLOW).cloned();
        res = ApiError::method_not_allowed().into_response();
        if let Some(allow) = allow {
            res.headers_mut().insert(header::ALLOW, allow);
        }
    }
    let kind = res
        .extensions()
        .get::<Kind>()
        .copied()
        .unwrap_or(default_kind);
    if !(scrape && res.status() == StatusCode::OK) {
        let error = res.extensions().get::<ErrorTag>().map(|t| t.0);
        state
            .metrics
            .record(kind, res.status(), error, start.elapsed());
    }
    res
}

/// Whether `Authorization` is `Bearer <token>` (scheme in any case),
/// compared in time independent of where the tokens differ. An empty
/// token matches nothing.
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    if token.is_empty() {
        return false;
    }
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return false;
    };
    let Some((scheme, given)) = value.as_bytes().split_at_checked(6) else {
        return false;
    };
    scheme.eq_ignore_ascii_case(b"bearer")
        && given.first() == Some(&b' ')
        && constant_time_eq(given[1..].trim_ascii(), token.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            m
        };
        assert!(bearer_matches(&h("Bearer s3cret"), "s3cret"));
        assert!(bearer_matches(&h("bearer s3cret"), "s3cret"));
        assert!(bearer_matches(&h("BEARER  s3cret "), "s3cret"));
        assert!(!bearer_matches(&h("Bearer s3cre"), "s3cret"));
        assert!(!bearer_matches(&h("Bearer s3cret2"), "s3cret"));
        assert!(!bearer_matches(&h("Basic s3cret"), "s3cret"));
        assert!(!bearer_matches(&h("Bearers3cret"), "s3cret"));
        assert!(!bearer_matches(&h("Bearer"), "s3cret"));
        assert!(!bearer_matches(&h("s3cret"), "s3cret"));
        assert!(!bearer_matches(&HeaderMap::new(), "s3cret"));
        assert!(!bearer_matches(&h("Bearer "), ""));
        assert!(!bearer_matches(&h("Bearer"), ""));
    }
}
