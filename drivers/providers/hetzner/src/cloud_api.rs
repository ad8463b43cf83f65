//! The Hetzner Cloud REST API (`https://api.hetzner.cloud/v1`), as its public reference
//! documents it: bearer token, `page`/`per_page` pagination with `meta.pagination.next_page`,
//! `label_selector` and `name` filters, actions polled until `success` or `error`, 429 with the
//! `RateLimit-Reset` header, errors as `{"error": {"code", "message"}}`. Requests go through a
//! [`Transport`] (the driver's http import); the token is sent, never shown.

use std::time::Duration;

use serde_json::{Value, json};

/// The public API.
pub const ENDPOINT: &str = "https://api.hetzner.cloud/v1";
/// Entries per page (the API's maximum).
const PER_PAGE: u32 = 50;

/// An answer: status, headers, body.
pub type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// One HTTP exchange, as the http import makes it.
pub trait Transport {
    /// `(status, headers, body)`, or why no answer came.
    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<Answer, String>;
    fn sleep(&self, duration: Duration);
    /// Seconds since the UNIX epoch (to read `RateLimit-Reset`).
    fn now(&self) -> u64;
}

/// How long to wait and how often to try.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub request_timeout: Duration,
    /// Attempts of one request while the API answers 429.
    pub rate_limit_attempts: u32,
    /// Longest single wait for the rate limit to refill.
    pub rate_limit_max_wait: Duration,
    /// Between polls of a running action.
    pub action_interval: Duration,
    /// Polls of one action before it counts as expired.
    pub action_polls: u32,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            request_timeout: Duration::from_secs(30),
            rate_limit_attempts: 6,
            rate_limit_max_wait: Duration::from_secs(60),
            action_interval: Duration::from_secs(1),
            action_polls: 300,
        }
    }
}

/// A failed call: what was asked, and what the API (or the network) said.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudError {
    pub method: String,
    pub path: String,
    /// 0 when no answer came.
    pub status: u16,
    /// The API's `error.code` (`not_found`, `uniqueness_error`, `rate_limit_exceeded`…), or the
    /// transport's reason.
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for CloudError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.status == 0 {
            write!(
                f,
                "Hetzner Cloud API {} {}: {}",
                self.method, self.path, self.message
            )
        } else {
            write!(
                f,
                "Hetzner Cloud API {} {}: {} {}: {}",
                self.method, self.path, self.status, self.code, self.message
            )
        }
    }
}

impl CloudError {
    pub fn is_not_found(&self) -> bool {
        self.status == 404
    }
}

/// The API path of a descriptor resource type (`load-balancer` → `load_balancers`) and the key
/// its object has in answers (`load_balancer`).
pub fn collection(kind: &str) -> (String, String) {
    let singular = kind.replace('-', "_");
    (format!("{singular}s"), singular)
}

/// A client for one project's token.
pub struct Cloud<'t, T: Transport> {
    base: String,
    token: String,
    transport: &'t T,
    pub tuning: Tuning,
}

impl<'t, T: Transport> Cloud<'t, T> {
    /// `base` is [`ENDPOINT`] or the operator's (`HCLOUD_ENDPOINT`, as the hcloud CLI reads it).
    pub fn new(base: &str, token: &str, transport: &'t T) -> Self {
        Cloud {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            transport,
            tuning: Tuning::default(),
        }
    }

    /// One call; the answer's JSON (`null` for an empty body). A 429 waits for the rate limit to
    /// refill (`RateLimit-Reset`, else doubling from a second) and tries again, boundedly.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CloudError> {
        let url = format!("{}{path}", self.base);
        let headers = vec![
            (
                "Authorization".to_string(),
                format!("Bearer {}", self.token),
            ),
            ("Accept".to_string(), "application/json".to_string()),
            ("Content-Type".to_string(), "application/json".to_string()),
        ];
        let fail = |status: u16, code: &str, message: String| CloudError {
            method: method.into(),
            path: path.into(),
            status,
            code: code.into(),
            message: self.hide_token(&message),
        };
        let mut backoff = Duration::from_secs(1);
        for attempt in 1..=self.tuning.rate_limit_attempts.max(1) {
            let bytes = body.map(|b| b.to_string().into_bytes());
            let (status, answer_headers, answer) = self
                .transport
                .send(method, &url, &headers, bytes, self.tuning.request_timeout)
                .map_err(|e| fail(0, "transport", e))?;
            let parsed: Value = if answer.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&answer).unwrap_or_else(|_| {
                    json!({"error": {"code": "not_json", "message": String::from_utf8_lossy(&answer).chars().take(300).collect::<String>()}})
                })
            };
            if (200..300).contains(&status) {
                return Ok(parsed);
            }
            let code = parsed["error"]["code"]
                .as_str()
                .unwrap_or("unknown")
                .to_string();
            let message = parsed["error"]["message"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if status == 429 && attempt < self.tuning.rate_limit_attempts {
                let wait = self.refill_wait(&answer_headers).unwrap_or(backoff);
                self.transport.sleep(wait);
                backoff = (backoff * 2).min(self.tuning.rate_limit_max_wait);
                continue;
            }
            let message = if status == 429 {
                format!("{message} (still rate limited after {attempt} attempts; try again later)")
            } else {
                message
            };
            return Err(fail(status, &code, message));
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// How long until the rate limit has room again, from `RateLimit-Reset` (a UNIX time).
    fn refill_wait(&self, headers: &[(String, String)]) -> Option<Duration> {
        let reset: u64 = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("ratelimit-reset"))?
            .1
            .trim()
            .parse()
            .ok()?;
        let seconds = reset.saturating_sub(self.transport.now()).max(1);
        Some(Duration::from_secs(seconds).min(self.tuning.rate_limit_max_wait))
    }

    fn hide_token(&self, text: &str) -> String {
        if self.token.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.token, "[HCLOUD_TOKEN]")
        }
    }

    /// Every object of a kind matching `query` (`label_selector`, `name`…), all pages.
    pub fn list(&self, kind: &str, query: &[(&str, &str)]) -> Result<Vec<Value>, CloudError> {
        let (path, _) = collection(kind);
        let mut out = Vec::new();
        let mut page = 1u64;
        loop {
            let mut params: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{k}={}", encode(v)))
                .collect();
            params.push(format!("page={page}"));
            params.push(format!("per_page={PER_PAGE}"));
            let answer = self.call("GET", &format!("/{path}?{}", params.join("&")), None)?;
            if let Some(items) = answer[path.as_str()].as_array() {
                out.extend(items.iter().cloned());
            }
            match answer["meta"]["pagination"]["next_page"].as_u64() {
                Some(next) if next > page => page = next,
                _ => return Ok(out),
            }
        }
    }

    /// The object of a kind with this exact name.
    pub fn find(&self, kind: &str, name: &str) -> Result<Option<Value>, CloudError> {
        Ok(self
            .list(kind, &[("name", name)])?
            .into_iter()
            .find(|o| o["name"].as_str() == Some(name)))
    }

    /// Creates one object; returns it with the actions it started (waited for by the caller).
    pub fn create(&self, kind: &str, body: &Value) -> Result<(Value, Vec<Value>), CloudError> {
        let (path, key) = collection(kind);
        let answer = self.call("POST", &format!("/{path}"), Some(body))?;
        let mut actions: Vec<Value> = answer.get("action").into_iter().cloned().collect();
        if let Some(next) = answer["next_actions"].as_array() {
            actions.extend(next.iter().cloned());
        }
        Ok((answer[key.as_str()].clone(), actions))
    }

    /// `POST /<kind>s/{id}/actions/<action>`; returns the action started.
    pub fn act(
        &self,
        kind: &str,
        id: u64,
        action: &str,
        body: &Value,
    ) -> Result<Value, CloudError> {
        let (path, _) = collection(kind);
        let answer = self.call(
            "POST",
            &format!("/{path}/{id}/actions/{action}"),
            Some(body),
        )?;
        Ok(answer["action"].clone())
    }

    /// Deletes one object; the actions it started (wait for them), or None when it was gone
    /// already.
    pub fn delete(&self, kind: &str, id: u64) -> Result<Option<Vec<Value>>, CloudError> {
        let (path, _) = collection(kind);
        match self.call("DELETE", &format!("/{path}/{id}"), None) {
            Ok(answer) => Ok(Some(answer.get("action").cloned().into_iter().collect())),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Polls the actions until all succeeded, all of them in each round (so many deletions
    /// take as long as the slowest); one that failed, or is still running after
    /// `action_polls` rounds, is an error naming its command and id.
    pub fn wait(&self, actions: &[Value]) -> Result<(), CloudError> {
        let mut pending: Vec<Value> = actions
            .iter()
            .filter(|a| a["id"].as_u64().is_some())
            .cloned()
            .collect();
        let mut rounds = 0;
        loop {
            let mut still = Vec::new();
            for action in pending {
                let id = action["id"].as_u64().unwrap_or_default();
                let command = action["command"].as_str().unwrap_or("action").to_string();
                let failure = |code: &str, message: String| CloudError {
                    method: "GET".into(),
                    path: format!("/actions/{id}"),
                    status: 200,
                    code: code.into(),
                    message,
                };
                match action["status"].as_str() {
                    Some("success") => {}
                    Some("error") => {
                        return Err(failure(
                            action["error"]["code"].as_str().unwrap_or("action_failed"),
                            format!(
                                "action {command} ({id}) failed: {}",
                                action["error"]["message"]
                                    .as_str()
                                    .unwrap_or("no reason given")
                            ),
                        ));
                    }
                    _ if rounds >= self.tuning.action_polls => {
                        return Err(failure(
                            "action_expired",
                            format!(
                                "action {command} ({id}) is still {} after {rounds} polls; run again once it finished",
                                action["status"].as_str().unwrap_or("running"),
                            ),
                        ));
                    }
                    _ => still.push(action),
                }
            }
            if still.is_empty() {
                return Ok(());
            }
            self.transport.sleep(self.tuning.action_interval);
            rounds += 1;
            pending = Vec::new();
            for action in still {
                let id = action["id"].as_u64().unwrap_or_default();
                pending.push(self.call("GET", &format!("/actions/{id}"), None)?["action"].clone());
            }
        }
    }

    /// The token works (an invalid one answers 401 `unauthorized`).
    pub fn check_token(&self) -> Result<(), CloudError> {
        self.call("GET", "/server_types?per_page=1", None)
            .map(|_| ())
    }
}

/// Percent-encodes a query value (label selectors hold `=`, `,` and `!`).
fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests;
