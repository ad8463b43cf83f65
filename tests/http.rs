//! The http capability against real HTTP(S) servers on 127.0.0.1: granted origins only,
//! loopback only when granted literally, redirects re-checked, size and time limits, and TLS
//! trusting the local development CA. Servers record what reached them, so a refusal is
//! proven by an empty record, not by a message alone.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lok8s_tests::Project;

/// A loopback HTTP server that records "METHOD path x-probe=<header>" per request. Serves
/// for at most 120 s or 50 requests.
struct Server {
    port: u16,
    hits: Arc<Mutex<Vec<String>>>,
}

fn serve(other_port: u16) -> Server {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let hits = Arc::new(Mutex::new(Vec::new()));
    let record = hits.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut served = 0;
        while Instant::now() < deadline && served < 50 {
            let Ok(Some(request)) = server.recv_timeout(Duration::from_millis(200)) else {
                continue;
            };
            served += 1;
            let probe = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("x-probe"))
                .map(|h| h.value.to_string())
                .unwrap_or_default();
            record.lock().unwrap().push(format!(
                "{} {} x-probe={probe}",
                request.method(),
                request.url()
            ));
            let location = |to: String| tiny_http::Header::from_bytes("Location", to).unwrap();
            let response = match request.url() {
                "/ok" => tiny_http::Response::from_string("hello").boxed(),
                "/redirect-ok" => tiny_http::Response::empty(302)
                    .with_header(location("/ok".into()))
                    .boxed(),
                "/redirect-away" => tiny_http::Response::empty(302)
                    .with_header(location(format!("http://127.0.0.1:{other_port}/ok")))
                    .boxed(),
                "/big" => tiny_http::Response::from_data(vec![b'x'; 33 << 20]).boxed(),
                "/slow" => {
                    std::thread::sleep(Duration::from_secs(3));
                    tiny_http::Response::from_string("late").boxed()
                }
                _ => tiny_http::Response::empty(404).boxed(),
            };
            let _ = request.respond(response);
        }
    });
    Server { port, hits }
}

impl Server {
    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

/// A project whose http-probe driver is granted `origins` and asks for `url`.
fn probe(origins: &[String], url: &str, extra: &str) -> Project {
    let p = Project::new();
    p.cluster(
        "http.dev",
        "HttpProbe",
        "http",
        &format!("probe:\n  url: {url}\n{extra}"),
    );
    p.pin("HttpProbe", "http-probe").success();
    let list = origins
        .iter()
        .map(|o| format!("{o:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let lock = p.read("drivers.lock");
    let granted = lock.replacen(
        "http = [\"http://127.0.0.1:1\"]",
        &format!("http = [{list}]"),
        2,
    );
    assert_ne!(lock, granted, "the grant line was not found:\n{lock}");
    p.write("drivers.lock", granted);
    p
}

#[test]
fn a_granted_origin_is_reached() {
    let s = serve(1);
    let p = probe(
        &[format!("http://127.0.0.1:{}", s.port)],
        &format!("http://127.0.0.1:{}/ok", s.port),
        "",
    );
    p.lo(&["provision", "http.dev"]).success();
    assert_eq!(
        p.read("clusters/http.dev/.state/response.txt"),
        "status=200 len=5 body=hello"
    );
    assert_eq!(s.hits(), ["GET /ok x-probe=yes"]);
}

#[test]
fn an_unlisted_origin_is_denied_and_nothing_is_sent() {
    let granted = serve(1);
    let other = serve(1);
    let p = probe(
        &[format!("http://127.0.0.1:{}", granted.port)],
        &format!("http://127.0.0.1:{}/ok", other.port),
        "",
    );
    p.lo(&["provision", "http.dev"])
        .code(1)
        .stderr_has("denied: http GET http://127.0.0.1:")
        .stderr_has(&format!("add \"http://127.0.0.1:{}\" to http", other.port))
        .stderr_has("[drivers.httpprobe.grants]");
    assert!(other.hits().is_empty() && granted.hits().is_empty());
}

#[test]
fn an_empty_grant_denies_everything() {
    let s = serve(1);
    let p = probe(&[], &format!("http://127.0.0.1:{}/ok", s.port), "");
    p.lo(&["provision", "http.dev"])
        .code(1)
        .stderr_has("granted origins (nothing)");
    assert!(s.hits().is_empty());
}

#[test]
fn loopback_needs_a_grant_naming_it() {
    let s = serve(1);
    let p = probe(
        &[format!("http://*:{}", s.port)],
        &format!("http://localhost:{}/ok", s.port),
        "",
    );
    p.lo(&["provision", "http.dev"])
        .code(1)
        .stderr_has("localhost resolves to")
        .stderr_has("a loopback address");
    assert!(s.hits().is_empty());
}

#[test]
fn redirects_are_checked_hop_by_hop() {
    let away = serve(1);
    let s = serve(away.port);
    let origin = format!("http://127.0.0.1:{}", s.port);
    let p = probe(
        std::slice::from_ref(&origin),
        &format!("{origin}/redirect-ok"),
        "",
    );
    p.lo(&["provision", "http.dev"]).success();
    assert_eq!(
        p.read("clusters/http.dev/.state/response.txt"),
        "status=200 len=5 body=hello"
    );
    let p = probe(
        std::slice::from_ref(&origin),
        &format!("{origin}/redirect-away"),
        "",
    );
    p.lo(&["provision", "http.dev"])
        .code(1)
        .stderr_has(&format!("add \"http://127.0.0.1:{}\" to http", away.port));
    assert!(
        away.hits().is_empty(),
        "the redirect reached an ungranted server"
    );
}

#[test]
fn size_and_time_limits() {
    let s = serve(1);
    let origin = format!("http://127.0.0.1:{}", s.port);
    let p = probe(std::slice::from_ref(&origin), &format!("{origin}/big"), "");
    p.lo(&["provision", "http.dev"])
        .code(1)
        .stderr_has("response larger than 32 MiB");
    let p = probe(
        std::slice::from_ref(&origin),
        &format!("{origin}/slow"),
        "  timeout_ms: 300\n",
    );
    p.lo(&["provision", "http.dev"])
        .code(1)
        .stderr_has("timed out: http GET")
        .stderr_has("no answer in time");
}

/// `openssl s_server -www` with a leaf from a mkcert CA; ended by PID on drop.
struct TlsServer(Child);

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn https_trusts_the_local_development_ca() {
    let p = Project::new();
    let caroot = p.path(".mkcert");
    std::fs::create_dir_all(&caroot).unwrap();
    let made = Command::new("mkcert")
        .env("CAROOT", &caroot)
        .current_dir(&caroot)
        .arg("127.0.0.1")
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = TlsServer(
        Command::new("openssl")
            .args([
                "s_server",
                "-quiet",
                "-www",
                "-accept",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["-cert", caroot.join("127.0.0.1.pem").to_str().unwrap()])
            .args(["-key", caroot.join("127.0.0.1-key.pem").to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "openssl s_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let origin = format!("https://127.0.0.1:{port}");
    let q = probe(std::slice::from_ref(&origin), &format!("{origin}/"), "");
    q.lo_env(
        &["provision", "http.dev"],
        &[("CAROOT", caroot.to_str().unwrap())],
    )
    .success();
    assert!(
        q.read("clusters/http.dev/.state/response.txt")
            .starts_with("status=200"),
        "{}",
        q.read("clusters/http.dev/.state/response.txt")
    );
    // Without the CA the certificate is not trusted.
    let empty = p.path(".empty-caroot");
    q.lo_env(
        &["provision", "http.dev"],
        &[("CAROOT", empty.to_str().unwrap())],
    )
    .code(1)
    .stderr_has("http GET https://127.0.0.1");
    drop(server);
}
