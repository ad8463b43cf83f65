//! The KKP v2 REST client over the http import: bearer token (never logged), JSON, a bounded
//! timeout on every request, backoff on 429, and failures that name the method, the path, the
//! status and what KKP answered.

use std::time::Duration;

use lok8s_driver_sdk::http::{self, Request};
use lok8s_driver_sdk::{DriverError, debug, failed, warn};
use serde_json::Value;

use crate::config::Kkp;

/// Longest a single request may take; the waits around requests have their own budgets.
const REQUEST_TIMEOUT_MS: u32 = 30_000;
/// How much of an error body a message quotes.
const BODY_SHOWN: usize = 400;

/// A failed call: what was asked and what came back.
pub enum ApiError {
    /// KKP answered with this status.
    Status { status: u16, message: String },
    /// No answer (the http import's own error, already naming the address).
    Transport(DriverError),
}

impl ApiError {
    /// KKP answered 404: the object is not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::Status { status: 404, .. })
    }
}

impl From<ApiError> for DriverError {
    fn from(e: ApiError) -> DriverError {
        match e {
            ApiError::Status { message, .. } => failed(message),
            ApiError::Transport(e) => e,
        }
    }
}

pub struct Api<'a> {
    kkp: &'a Kkp,
}

impl<'a> Api<'a> {
    pub fn new(kkp: &'a Kkp) -> Api<'a> {
        Api { kkp }
    }

    /// `path` below the project: `/clusters/<id>` → `/api/v2/projects/<p>/clusters/<id>`.
    pub fn project_path(&self, project_id: &str, rest: &str) -> String {
        format!("/api/v2/projects/{project_id}{rest}")
    }

    /// One call; a 2xx answer's body. 429 is retried after `KKP_RETRY_DELAY`, doubling (or
    /// the server's `Retry-After`), at most `KKP_MAX_RETRIES` times in all.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra_headers: &[(&str, &str)],
    ) -> std::result::Result<Vec<u8>, ApiError> {
        let tuning = &self.kkp.tuning;
        let mut headers = vec![
            (
                "Authorization".to_string(),
                format!("Bearer {}", self.kkp.token),
            ),
            ("Accept".to_string(), "application/json".to_string()),
        ];
        if body.is_some() {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        headers.extend(
            extra_headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let request = Request {
            method: method.into(),
            url: format!("{}{path}", self.kkp.api_url),
            headers,
            body: body.map(|b| serde_json::to_vec(b).unwrap_or_default()),
            timeout_ms: Some(REQUEST_TIMEOUT_MS),
        };
        let mut delay = tuning.retry_delay;
        let mut attempt = 1;
        loop {
            debug!("KKP API: {method} {path} (token redacted)");
            let response =
                http::send(&request).map_err(|e| ApiError::Transport(context(method, path, e)))?;
            debug!("KKP API: {method} {path} -> {}", response.status);
            let status = response.status;
            if (200..300).contains(&status) {
                return Ok(response.body);
            }
            if status == 429 && attempt < tuning.max_retries {
                let wait = retry_after(&response.headers).unwrap_or(delay);
                warn!(
                    "KKP API rate limited (429), retrying in {}s (attempt {attempt}/{})",
                    wait.as_secs(),
                    tuning.max_retries
                );
                std::thread::sleep(wait);
                delay *= 2;
                attempt += 1;
                continue;
            }
            let message = if status == 429 {
                format!(
                    "KKP API: still rate limited (429) after {attempt} attempts for {method} {path}; try again later"
                )
            } else {
                format!(
                    "KKP API error: {method} {path} -> HTTP {status}{}",
                    shown_body(&response.body)
                )
            };
            return Err(ApiError::Status { status, message });
        }
    }

    /// A call whose 2xx answer is JSON.
    pub fn json(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> std::result::Result<Value, ApiError> {
        let bytes = self.call(method, path, body, &[])?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Status {
            status: 200,
            message: format!(
                "KKP API: {method} {path} answered something that is not JSON ({e}){}",
                shown_body(&bytes)
            ),
        })
    }
}

fn context(method: &str, path: &str, e: DriverError) -> DriverError {
    match e {
        DriverError::Timeout(m) => {
            DriverError::Timeout(format!("KKP API error: {method} {path}: {m}"))
        }
        DriverError::Unavailable(m) => {
            DriverError::Unavailable(format!("KKP API error: {method} {path}: {m}"))
        }
        DriverError::Failed(m) => failed(format!("KKP API error: {method} {path}: {m}")),
        other => other,
    }
}

/// `Retry-After` in seconds (capped at a minute), if the server sent one.
fn retry_after(headers: &[(String, String)]) -> Option<Duration> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, v)| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.min(60)))
}

/// `; response: <body>` (shortened), or nothing for an empty body.
fn shown_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let cut: String = text.chars().take(BODY_SHOWN).collect();
    let more = if cut.len() < text.len() { " …" } else { "" };
    format!("; response: {cut}{more}")
}
