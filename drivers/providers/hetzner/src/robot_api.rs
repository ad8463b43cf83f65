//! The Hetzner Robot webservice (`https://robot-ws.your-server.de`), for dedicated servers, as
//! its public reference documents it: HTTP basic auth, `GET /server` (a list of
//! `{"server": {server_number, server_ip, server_name, …}}`), `POST /server/{number}` with the
//! form field `server_name`, errors as `{"error": {"status", "code", "message"}}`. Used to
//! name a cluster's bare-metal workers after their hostnames (spec 2.2 step 6b). The
//! credentials are sent, never shown.

use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::cloud_api::Transport;

pub const ENDPOINT: &str = "https://robot-ws.your-server.de";
const TIMEOUT: Duration = Duration::from_secs(30);

/// A failed call.
#[derive(Debug, Clone, PartialEq)]
pub struct RobotError {
    /// 0 when no answer came.
    pub status: u16,
    pub message: String,
}

impl std::fmt::Display for RobotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)
    }
}

pub struct Robot<'t, T: Transport> {
    base: String,
    user: String,
    password: String,
    transport: &'t T,
}

impl<'t, T: Transport> Robot<'t, T> {
    pub fn new(base: &str, user: &str, password: &str, transport: &'t T) -> Self {
        Robot {
            base: base.trim_end_matches('/').to_string(),
            user: user.into(),
            password: password.into(),
            transport,
        }
    }

    fn call(&self, method: &str, path: &str, form: Option<String>) -> Result<Value, RobotError> {
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.user, self.password));
        let mut headers = vec![
            ("Authorization".to_string(), format!("Basic {auth}")),
            ("Accept".to_string(), "application/json".to_string()),
        ];
        if form.is_some() {
            headers.push((
                "Content-Type".to_string(),
                "application/x-www-form-urlencoded".to_string(),
            ));
        }
        let url = format!("{}{path}", self.base);
        let hide = |text: &str| {
            let mut text = text.replace(&auth, "[HROBOT credentials]");
            if !self.password.is_empty() {
                text = text.replace(&self.password, "[HROBOT_PASSWORD]");
            }
            text
        };
        let (status, _, body) = self
            .transport
            .send(
                method,
                &url,
                &headers,
                form.map(String::into_bytes),
                TIMEOUT,
            )
            .map_err(|e| RobotError {
                status: 0,
                message: format!("Hetzner Robot API {method} {path}: {}", hide(&e)),
            })?;
        let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(parsed);
        }
        let error = &parsed["error"];
        Err(RobotError {
            status,
            message: hide(&format!(
                "Hetzner Robot API {method} {path}: {status} {}: {}",
                error["code"].as_str().unwrap_or("unknown"),
                error["message"].as_str().unwrap_or("")
            )),
        })
    }

    /// Every dedicated server of the account (the objects inside `{"server": …}`).
    pub fn servers(&self) -> Result<Vec<Value>, RobotError> {
        let answer = self.call("GET", "/server", None)?;
        Ok(answer
            .as_array()
            .map(|list| list.iter().map(|s| s["server"].clone()).collect())
            .unwrap_or_default())
    }

    pub fn set_name(&self, number: u64, name: &str) -> Result<(), RobotError> {
        let form = format!(
            "server_name={}",
            percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
        );
        self.call("POST", &format!("/server/{number}"), Some(form))
            .map(|_| ())
    }
}

/// What naming did for one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// Renamed: server number.
    Renamed(u64),
    /// It had that name already.
    Unchanged(u64),
    /// No dedicated server has that address (a cloud worker).
    NotDedicated,
}

/// Names the dedicated server behind each `(hostname, public address)` after the hostname.
/// The server list is read once; a server already named so is left alone.
pub fn name_workers<T: Transport>(
    robot: &Robot<T>,
    workers: &[(String, String)],
) -> Result<Vec<(String, Named)>, String> {
    for (hostname, _) in workers {
        let ok = !hostname.is_empty()
            && hostname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !ok {
            return Err(format!(
                "robot: invalid hostname {hostname:?} (expected letters, digits, '.' or '-')"
            ));
        }
    }
    let servers = robot.servers().map_err(|e| {
        format!("robot: cannot list the dedicated servers (check HROBOT_USER/HROBOT_PASSWORD): {e}")
    })?;
    let mut out = Vec::new();
    for (hostname, address) in workers {
        let found = servers
            .iter()
            .find(|s| s["server_ip"].as_str() == Some(address.as_str()));
        let named = match found.and_then(|s| Some((s["server_number"].as_u64()?, s))) {
            None => Named::NotDedicated,
            Some((number, s)) if s["server_name"].as_str() == Some(hostname.as_str()) => {
                Named::Unchanged(number)
            }
            Some((number, _)) => {
                robot
                    .set_name(number, hostname)
                    .map_err(|e| format!("robot: cannot name server {number} {hostname:?}: {e}"))?;
                Named::Renamed(number)
            }
        };
        out.push((hostname.clone(), named));
    }
    Ok(out)
}
