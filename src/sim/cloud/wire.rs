//! JSON shapes shared by the endpoints: the error body, the list envelope and pagination.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// The default `per_page` of list endpoints.
pub const DEFAULT_PER_PAGE: usize = 25;
/// The largest `per_page` honoured; larger values are clamped.
pub const MAX_PER_PAGE: usize = 100;

/// An error answer: `{"error": "<short>", "message": "...", "code": <status>}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Short class (`bad_request`, `not_found`, ...).
    pub error: &'static str,
    /// Human-readable message naming the problem.
    pub message: String,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with the class derived from `status`.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            error: class_of(status),
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, message)
    }

    /// 429 `rate_limited` with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                429,
                format!("Too many requests: retry after {retry_after_secs} seconds"),
            )
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"error": self.error, "message": self.message, "code": self.status})
    }
}

/// The short error class for an HTTP status, as the client's metrics name them.
pub fn class_of(status: u16) -> &'static str {
    match status {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        429 => "rate_limited",
        500..=599 => "server_error",
        _ => "error",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        resp
    }
}

/// Page and page size of a list request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based page number.
    pub page: usize,
    /// Items per page (1..=[`MAX_PER_PAGE`]).
    pub per_page: usize,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

impl Page {
    /// Reads `page` and `per_page` from query parameters; the error names the parameter.
    pub fn from_query<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ApiError> {
        let mut page = Page::default();
        for (k, v) in params {
            let parse = |name: &str| {
                v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "query parameter `{name}` = {v:?} is invalid: give a positive integer"
                    ))
                })
            };
            match k {
                "page" => page.page = parse("page")?,
                "per_page" => page.per_page = parse("per_page")?.min(MAX_PER_PAGE),
                _ => {}
            }
        }
        Ok(page)
    }
}

/// Wraps one page of `items` in the list envelope `{"data": [...], "pagination": {...}}`.
pub fn envelope(items: Vec<Value>, page: Page) -> Value {
    let total = items.len();
    let total_pages = total.div_ceil(page.per_page);
    let data: Vec<Value> = items
        .into_iter()
        .skip((page.page - 1).saturating_mul(page.per_page))
        .take(page.per_page)
        .collect();
    json!({
        "data": data,
        "pagination": {
            "total": total,
            "count": data.len(),
            "per_page": page.per_page,
            "current_page": page.page,
            "total_pages": total_pages,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_pages_and_counts() {
        let items: Vec<Value> = (0..30).map(|i| json!(i)).collect();
        let v = envelope(
            items.clone(),
            Page {
                page: 2,
                per_page: 25,
            },
        );
        assert_eq!(v["data"].as_array().map(Vec::len), Some(5));
        assert_eq!(v["data"][0], json!(25));
        assert_eq!(
            v["pagination"],
            json!({"total": 30, "count": 5, "per_page": 25, "current_page": 2, "total_pages": 2})
        );
        let v = envelope(
            items,
            Page {
                page: 9,
                per_page: 25,
            },
        );
        assert_eq!(v["pagination"]["count"], json!(0));
        assert_eq!(
            envelope(vec![], Page::default())["pagination"]["total_pages"],
            json!(0)
        );
    }

    #[test]
    fn page_query_is_validated_and_clamped() {
        assert_eq!(Page::from_query([]), Ok(Page::default()));
        assert_eq!(
            Page::from_query([("page", "3"), ("per_page", "500")]),
            Ok(Page {
                page: 3,
                per_page: MAX_PER_PAGE
            })
        );
        let err = Page::from_query([("per_page", "0")]).expect_err("zero");
        assert!(err.message.contains("per_page") && err.message.contains("\"0\""));
        let err = Page::from_query([("page", "x")]).expect_err("x");
        assert_eq!((err.status, err.error), (400, "bad_request"));
    }
}
