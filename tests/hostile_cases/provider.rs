//! Hosts a provider's API reported (`host::reported`): the attacker is granted two Cloud API
//! doubles, the watched one (`HCLOUD_ENDPOINT`) and another (`OTHER_ENDPOINT`), and what only
//! the other one, or a file the attacker wrote, names must open nothing.

use lok8s_tests::attack::{Attack, sshd_for};
use lok8s_tests::hcloud_api::HcloudApi;
use serde_json::json;

const TOKEN: &str = "hostile-hcloud-token";

/// The two doubles and their CA files.
struct TwoClouds {
    api: HcloudApi,
    other: HcloudApi,
    cas: tempfile::TempDir,
}

impl TwoClouds {
    /// Each double holds one object of `collection` whose public IPv4 is the given address.
    fn start(collection: &str, api_ip: &str, other_ip: &str) -> TwoClouds {
        let clouds = TwoClouds {
            api: HcloudApi::start(TOKEN),
            other: HcloudApi::start(TOKEN),
            cas: tempfile::tempdir().unwrap(),
        };
        for (double, ip) in [(&clouds.api, api_ip), (&clouds.other, other_ip)] {
            double.seed(collection, "m1", json!({}));
            let public = json!({"ipv4": {"ip": ip}, "ipv6": null});
            double.set(collection, "m1", "public_net", public);
        }
        clouds
    }

    fn ca_file(&self, name: &str, pem: &str) -> String {
        let path = self.cas.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path.display().to_string()
    }

    /// Both doubles as granted origins (their CAs trusted), their URLs and the token as
    /// parameters `api`, `other`, `token`.
    fn granted(&self, a: Attack) -> Attack {
        a.param("token", TOKEN)
            .param("api", self.api.url())
            .param("other", self.other.url())
            .env("HCLOUD_ENDPOINT", &self.api.url())
            .env("OTHER_ENDPOINT", &self.other.url())
            .env("HCLOUD_CA_CERT", &self.ca_file("api.pem", &self.api.ca_pem))
            .env(
                "OTHER_CA_CERT",
                &self.ca_file("other.pem", &self.other.ca_pem),
            )
            .grant(|g| {
                g.http = Some(vec![
                    "env:HCLOUD_ENDPOINT".into(),
                    "env:OTHER_ENDPOINT".into(),
                ]);
                g.http_trust = vec!["env:HCLOUD_CA_CERT".into(), "env:OTHER_CA_CERT".into()];
            })
    }
}

/// Granted the servers the Cloud API double reports (`hcloud-servers:env:HCLOUD_ENDPOINT`): a
/// dump the driver wrote and another granted API listing 127.0.0.1 open nothing; the watched
/// API's answer does, without an agent forwarded.
#[test]
fn attack_ssh_unreported_host() {
    let clouds = TwoClouds::start("servers", "127.0.0.1", "127.0.0.1");
    let a = Attack::new("ssh-unreported-host").lo_writes(".lok8s/known_hosts");
    let sshd = sshd_for(&a);
    let a = clouds
        .granted(a)
        .ssh_login(&sshd, "hcloud-servers:env:HCLOUD_ENDPOINT");
    let run = a.run();
    run.code(1)
        .stderr_has("before: denied(")
        .stderr_has("dump: denied(")
        .stderr_has("other origin: denied(")
        .stderr_has("reported: connected, agent=");
    assert!(
        !run.stderr.contains("agent=/"),
        "an agent socket was forwarded: {}",
        run.stderr
    );
    assert_eq!(
        clouds.other.seen(),
        ["GET /servers"],
        "the other API was asked once"
    );
    let pins = a.project.read(".lok8s/known_hosts");
    assert!(
        pins.starts_with(&format!("127.0.0.1:{} SHA256:", sshd.port)),
        "{pins}"
    );
}

/// Granted the load balancers the Cloud API double reports (kube.servers
/// `hcloud-load-balancers:env:HCLOUD_ENDPOINT`): one another granted API lists is not published;
/// one the watched API lists is.
#[test]
fn attack_kubeconfig_unreported_balancer() {
    let clouds = TwoClouds::start("load_balancers", "127.0.0.98", "127.0.0.99");
    let case = |which: &str, ip: &str| {
        let a = Attack::new("kubeconfig-unreported-balancer")
            .variant(which)
            .lo_writes(".kubeconfig/hostile.yaml")
            .param("which", which)
            .param("ip", ip);
        clouds.granted(a).grant(|g| {
            g.kube.as_mut().unwrap().servers =
                vec!["hcloud-load-balancers:env:HCLOUD_ENDPOINT".into()];
        })
    };
    let refused = case("other", "127.0.0.99");
    refused
        .run()
        .code(1)
        .stderr_has("https://127.0.0.99:6443 is not an API server this driver may reach");
    assert!(!refused.project.path(".kubeconfig/hostile.yaml").exists());
    let reported = case("api", "127.0.0.98");
    reported.run().success();
    let published = reported.project.read(".kubeconfig/hostile.yaml");
    assert!(
        published.contains("server: https://127.0.0.98:6443"),
        "{published}"
    );
}
