//! TLS names, ssh host spellings and key probing, a remote command that outlives its call,
//! invisible format characters, an environment secret, and CPU charged for host waits.

use lok8s_driver_sdk::{Context, DriverError, Outcome, Result, ssh, tls};

use crate::{attempt, escaped, io, param};

pub fn tls_malformed_names(_: &Context) -> Result<Outcome> {
    for name in [
        "*.*.dev.test",
        ".dev.test",
        "evil.*.dev.test",
        "a\0b.dev.test",
        "a\nb.dev.test",
        "a b.dev.test",
    ] {
        if tls::issue(&[name.to_string()], None).is_ok() {
            return escaped(format!("a leaf for {name:?}"));
        }
    }
    Err(DriverError::Denied("no malformed name was issued".into()))
}

/// Issues a leaf for a public name and leaves it for the test to verify with openssl.
pub fn tls_public_name(ctx: &Context) -> Result<Outcome> {
    let leaf = tls::issue(&["bank.example.com".to_string()], None)?;
    io(std::fs::write(
        format!("{}/leaf.pem", ctx.cluster_dir),
        &leaf.certificate_pem,
    ))?;
    Err(DriverError::Failed(
        "issued a leaf for bank.example.com".into(),
    ))
}

fn connect(ctx: &Context, host: &str, key: &str) -> Result<ssh::Session> {
    ssh::Session::connect(&ssh::ConnectOptions {
        host: host.into(),
        port: param(ctx, "port").parse().unwrap_or(22),
        user: param(ctx, "user"),
        key: key.into(),
        timeout_ms: Some(5000),
    })
}

pub fn ssh_host_case(ctx: &Context) -> Result<Outcome> {
    attempt(
        "connect past a pinned key by spelling the host differently",
        connect(ctx, "LocalHost.", &param(ctx, "key")),
    )
}

pub fn ssh_key_probe(ctx: &Context) -> Result<Outcome> {
    let existing = connect(ctx, "127.0.0.1", "/etc/shadow").err();
    let missing = connect(ctx, "127.0.0.1", "/nonexistent/attacker-key").err();
    match (existing, missing) {
        (Some(a), Some(b)) => Err(DriverError::Failed(format!(
            "existing: {}; missing: {}",
            describe(&a),
            describe(&b)
        ))),
        _ => escaped("an ungranted key was used"),
    }
}

fn describe(e: &DriverError) -> String {
    match e {
        DriverError::Denied(m) => format!("denied({m})"),
        DriverError::NotFound(m) => format!("not-found({m})"),
        other => format!("{other:?}"),
    }
}

pub fn ssh_outlive(ctx: &Context) -> Result<Outcome> {
    let session = connect(ctx, "127.0.0.1", &param(ctx, "key"))?;
    let command = format!("sleep {}", param(ctx, "marker"));
    attempt(
        "a command that outlives its call",
        session.exec(&command, None),
    )
}

/// `exec-all` (contract 1.2) as a way around the deadline: two commands on one session and one
/// on another, all sleeping past the call's time.
pub fn ssh_outlive_all(ctx: &Context) -> Result<Outcome> {
    let key = param(ctx, "key");
    let one = connect(ctx, "127.0.0.1", &key)?;
    let two = connect(ctx, "127.0.0.1", &key)?;
    let command = format!("sleep {}", param(ctx, "marker"));
    let request = |session| ssh::ExecRequest {
        session,
        command: command.clone(),
        stdin: None,
    };
    let answers = ssh::exec_all(&[request(&one), request(&one), request(&two)]);
    match answers.into_iter().find_map(|a| a.err()) {
        Some(e) => Err(e),
        None => escaped("commands that outlive their call"),
    }
}

/// A remote command whose output would take over the terminal `lo` shows it on: a title, a
/// cleared screen, a hidden cursor, then a thousand lines.
pub fn ssh_terminal_echo(ctx: &Context) -> Result<Outcome> {
    let session = connect(ctx, "127.0.0.1", &param(ctx, "key"))?;
    let command = r#"printf '\033]0;pwned\007\033[2J\033[?25lTAKEN\n'; i=0; while [ $i -lt 1000 ]; do echo "line $i"; i=$((i+1)); done"#;
    let out = session.exec(command, None)?;
    if !String::from_utf8_lossy(&out.stdout).contains("\u{1b}]0;pwned") {
        return Err(DriverError::Failed(
            "the driver's own answer lost the bytes".into(),
        ));
    }
    Ok(Outcome::Continue)
}

/// Granted the servers the Cloud API at `api` reports: tries 127.0.0.1 before any answer,
/// after writing a dump that lists it, and after another granted origin listed it; then asks
/// the watched API, which lists it, and looks for a forwarded agent.
pub fn ssh_unreported_host(ctx: &Context) -> Result<Outcome> {
    let key = param(ctx, "key");
    let mut seen = Vec::new();
    let mut step = |what: &str, ctx: &Context| match connect(ctx, "127.0.0.1", &key) {
        Ok(_) => Err(format!("{what}: connected")),
        Err(e) => {
            seen.push(format!("{what}: {}", describe(&e)));
            Ok(())
        }
    };
    let listed = r#"{"servers": [{"id": 1, "public_net": {"ipv4": {"ip": "127.0.0.1"}}}]}"#;
    let escape = |e: String| escaped(e);
    if let Err(e) = step("before", ctx) {
        return escape(e);
    }
    io(std::fs::write(
        format!("{}/hetzner.dump.json", ctx.cluster_dir),
        listed,
    ))?;
    if let Err(e) = step("dump", ctx) {
        return escape(e);
    }
    servers(ctx, "other")?;
    if let Err(e) = step("other origin", ctx) {
        return escape(e);
    }
    servers(ctx, "api")?;
    let session = connect(ctx, "127.0.0.1", &key)?;
    let agent = session.exec("echo \"agent=$SSH_AUTH_SOCK\"", None)?;
    Err(DriverError::Failed(format!(
        "{}; reported: connected, {}",
        seen.join("; "),
        String::from_utf8_lossy(&agent.stdout).trim()
    )))
}

/// Asks the API `which` for its load balancers, then writes a kubeconfig naming `ip`: lo
/// publishes it only if the watched API reported that address.
pub fn kubeconfig_unreported_balancer(ctx: &Context) -> Result<Outcome> {
    list(ctx, &param(ctx, "which"), "load_balancers")?;
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://{}:6443\n\
         contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n\
         users:\n- name: u\n  user:\n    token: t\n",
        param(ctx, "ip")
    );
    io(std::fs::write(&ctx.kubeconfig, text))?;
    Ok(Outcome::Continue)
}

/// `GET <param>/servers` with the token.
fn servers(ctx: &Context, base: &str) -> Result<()> {
    list(ctx, base, "servers")
}

/// `GET <param base>/<collection>` with the token.
fn list(ctx: &Context, base: &str, collection: &str) -> Result<()> {
    let request = lok8s_driver_sdk::http::Request {
        method: "GET".into(),
        url: format!("{}/{collection}", param(ctx, base)),
        headers: vec![(
            "Authorization".into(),
            format!("Bearer {}", param(ctx, "token")),
        )],
        body: None,
        timeout_ms: Some(10_000),
    };
    let answer = lok8s_driver_sdk::http::send(&request)?;
    if answer.status != 200 {
        return Err(DriverError::Failed(format!(
            "{base}: HTTP {}",
            answer.status
        )));
    }
    Ok(())
}

pub fn format_spoof(_: &Context) -> Result<Outcome> {
    lok8s_driver_sdk::log::write(
        lok8s_driver_sdk::log::Level::Info,
        "approved\u{202E}lacol\u{202C} \u{2066}ok\u{2069} ze\u{200B}ro \u{FEFF}bom",
    );
    Err(DriverError::Denied("format characters sent".into()))
}

pub fn env_leak(_: &Context) -> Result<Outcome> {
    match std::env::var("ATTACKER_SECRET") {
        Ok(v) => escaped(format!("env {v}")),
        Err(_) => Err(DriverError::Denied("ATTACKER_SECRET is not visible".into())),
    }
}

/// Many host calls that wait on the engine: waits are not guest CPU time.
pub fn cpu_waits_not_charged(_: &Context) -> Result<Outcome> {
    for _ in 0..2000 {
        lok8s_driver_sdk::docker::inspect_network("lok8s-attacker-none")?;
    }
    Err(DriverError::Failed("2000 engine calls done".into()))
}

/// Granted the API the spec names (`spec:attempt.api`): asks another port of the same machine.
pub fn http_beside_named_origin(ctx: &Context) -> Result<Outcome> {
    let request = lok8s_driver_sdk::http::Request {
        method: "GET".into(),
        url: format!("https://{}/", param(ctx, "other")),
        headers: vec![],
        body: None,
        timeout_ms: Some(5_000),
    };
    attempt(
        "http beside the named origin",
        lok8s_driver_sdk::http::send(&request),
    )
}
