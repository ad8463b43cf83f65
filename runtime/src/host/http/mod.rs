//! The `http` import on reqwest. Guards egress: each request (and each redirect hop) must
//! match an origin in the grant; names are resolved here and every address checked (no
//! link-local or metadata addresses, loopback only when granted literally), and the request
//! goes to the checked address, so a second DNS answer cannot redirect it. No proxies, a
//! timeout on every request and a cap on response size.

pub mod allowlist;
pub mod operator;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use allowlist::{Allowlist, Verdict, address_allowed};

use crate::contract::http as wit;
use crate::contract::types::DriverError;
use crate::host::refusal::{Call, granted};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_TIMEOUT: Duration = Duration::from_secs(600);
const MAX_REDIRECTS: usize = 5;
/// Largest response body handed to a driver.
pub const MAX_BODY: usize = 32 << 20;

/// One driver's egress.
pub struct HttpCtx {
    allow: Allowlist,
    entries: Vec<String>,
    /// The local development CA, trusted besides the system roots (read once per run).
    dev_ca: Option<reqwest::Certificate>,
    /// CA certificates the operator named (`http-trust`), trusted besides the system roots.
    operator_cas: Vec<reqwest::Certificate>,
    refuse: crate::host::refusal::Refusals,
    /// Where the servers an API reports are recorded, for the ssh grant (`host::reported`).
    reported: Option<crate::host::reported::ReportedHosts>,
}

impl HttpCtx {
    /// Fails on a malformed grant entry, naming it and the grammar.
    /// The context a grant gives a driver: the granted origins (operator-named ones resolved
    /// now), and the user's dev CA and the CA files the operator names trusted besides the
    /// system roots.
    pub fn from_grant(
        origins: &[String],
        trust: &[String],
        site: &crate::host::Site,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let values = operator::OperatorValues {
            spec: site.spec,
            spec_dir: site.spec_dir,
            env,
        };
        let origins = operator::resolve_origins(origins, &values)?;
        let dev_ca = site.caroot.join("rootCA.pem");
        let mut ctx = HttpCtx::new(origins, Some(dev_ca), site.hint.to_string())?;
        ctx.operator_cas = operator::trusted_cas(trust, &values)?;
        Ok(ctx)
    }

    pub fn new(
        entries: Vec<String>,
        dev_ca: Option<PathBuf>,
        hint: String,
    ) -> Result<Self, String> {
        let dev_ca = dev_ca
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|pem| reqwest::Certificate::from_pem(&pem).ok());
        Ok(HttpCtx {
            allow: Allowlist::parse(&entries)?,
            entries,
            dev_ca,
            operator_cas: Vec::new(),
            refuse: crate::host::refusal::Refusals::new("http", hint),
            reported: None,
        })
    }

    /// Records the servers the watched APIs report in their answers.
    pub fn report_to(mut self, reported: crate::host::reported::ReportedHosts) -> Self {
        self.reported = reported.watches_anything().then_some(reported);
        self
    }

    async fn send(&self, request: wit::Request) -> Result<wit::Response, DriverError> {
        let method = reqwest::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| {
                DriverError::Failed(format!("http: {:?} is not a method", request.method))
            })?;
        let timeout = request
            .timeout_ms
            .map(|ms| Duration::from_millis(ms.into()))
            .unwrap_or(DEFAULT_TIMEOUT)
            .min(MAX_TIMEOUT);
        if let Some((name, _)) = request
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        {
            return Err(self.refuse.denied(
                &request.url,
                format!("the {name:?} header is set by lo from the URL"),
            ));
        }
        let mut url = reqwest::Url::parse(&request.url).map_err(|e| {
            DriverError::Failed(format!("http: {:?} is not a URL: {e}", request.url))
        })?;
        let mut method = method;
        let mut body = request.body.clone();
        for _hop in 0..=MAX_REDIRECTS {
            let (client, shown, on_loopback) =
                self.client_for(&url, &request.method, timeout).await?;
            let mut builder = client.request(method.clone(), url.clone());
            for (k, v) in &request.headers {
                builder = builder.header(k, v);
            }
            if let Some(b) = &body {
                builder = builder.body(b.clone());
            }
            let response = builder.send().await.map_err(|e| transport(&shown, e))?;
            let status = response.status();
            if status.is_redirection()
                && let Some(location) = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
            {
                url = url.join(location).map_err(|e| {
                    DriverError::Failed(format!("http {shown}: bad redirect {location:?}: {e}"))
                })?;
                // 301/302/303 turn into GET without a body, as browsers and curl do.
                if matches!(status.as_u16(), 301..=303) {
                    method = reqwest::Method::GET;
                    body = None;
                }
                continue;
            }
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = read_capped(response, &shown).await?;
            if let Some(reported) = &self.reported {
                reported.observe(&url, status.as_u16(), on_loopback, &body);
            }
            return Ok(wit::Response {
                status: status.as_u16(),
                headers,
                body,
            });
        }
        Err(DriverError::Failed(format!(
            "http {}: more than {MAX_REDIRECTS} redirects",
            request.url
        )))
    }

    /// Checks the URL against the grant and its addresses against the rules, and returns a
    /// client pinned to the checked address, and whether that address is loopback.
    async fn client_for(
        &self,
        url: &reqwest::Url,
        method: &str,
        timeout: Duration,
    ) -> Result<(reqwest::Client, String, bool), DriverError> {
        let scheme = url.scheme();
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port_or_known_default().unwrap_or(0);
        let shown = format!("{} {scheme}://{host}:{port}", method.to_ascii_uppercase());
        let loopback = match self.allow.check(scheme, &host, port) {
            Verdict::Denied => {
                let granted = if self.entries.is_empty() {
                    "nothing".to_string()
                } else {
                    self.entries.join(", ")
                };
                return Err(self.refuse.denied(&shown, format!("not among the granted origins ({granted}); add \"{scheme}://{host}:{port}\" to http")));
            }
            Verdict::Allowed { loopback } => loopback,
        };
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let addrs: Vec<SocketAddr> = match bare.parse::<std::net::IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((bare.as_str(), port))
                .await
                .map_err(|e| {
                    DriverError::Unavailable(format!("http {shown}: resolving {host}: {e}"))
                })?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(DriverError::Unavailable(format!(
                "http {shown}: {host} has no address"
            )));
        }
        // Every answer must pass: a name that also resolves somewhere forbidden is refused.
        for addr in &addrs {
            if let Err(why) = address_allowed(addr.ip(), loopback) {
                return Err(self
                    .refuse
                    .denied(&shown, format!("{host} resolves to {}, {why}", addr.ip())));
            }
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(30)));
        if bare.parse::<std::net::IpAddr>().is_err() {
            builder = builder.resolve_to_addrs(&bare, &addrs);
        }
        for cert in self.dev_ca.iter().chain(&self.operator_cas) {
            builder = builder.add_root_certificate(cert.clone());
        }
        let client = builder
            .build()
            .map_err(|e| DriverError::Failed(format!("http {shown}: {e}")))?;
        let on_loopback = addrs.iter().all(|a| a.ip().is_loopback());
        Ok((client, shown, on_loopback))
    }
}

async fn read_capped(mut response: reqwest::Response, shown: &str) -> Result<Vec<u8>, DriverError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(shown, e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(DriverError::Failed(format!(
                "http {shown}: response larger than {} MiB",
                MAX_BODY >> 20
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn transport(shown: &str, e: reqwest::Error) -> DriverError {
    if e.is_timeout() {
        return DriverError::Timeout(format!("http {shown}: no answer in time"));
    }
    // reqwest's own text is "error sending request"; the causes say why (refused, TLS).
    let connect = e.is_connect();
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    if connect {
        DriverError::Unavailable(format!("http {shown}: {text}"))
    } else {
        DriverError::Failed(format!("http {shown}: {text}"))
    }
}

impl wit::Host for super::HostState {
    async fn send(&mut self, request: wit::Request) -> Call<wit::Response> {
        let http = granted(&mut self.http, "http")?;
        Ok(http.send(request).await)
    }
}
