//! The client's own logic against scripted answers (the HTTPS double in `tests/` checks the
//! same calls over the real http import).

use std::cell::RefCell;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Cloud, Transport};

type Scripted = (u16, Vec<(String, String)>, Value);
/// A request as sent: method, URL, headers.
type Asked = (String, String, Vec<(String, String)>);

#[derive(Default)]
struct Script {
    answers: RefCell<Vec<Scripted>>,
    asked: RefCell<Vec<Asked>>,
    slept: RefCell<Vec<Duration>>,
}

impl Script {
    fn new(answers: Vec<Scripted>) -> Script {
        Script {
            answers: RefCell::new(answers.into_iter().rev().collect()),
            ..Default::default()
        }
    }
    fn urls(&self) -> Vec<String> {
        self.asked
            .borrow()
            .iter()
            .map(|(m, u, _)| format!("{m} {u}"))
            .collect()
    }
}

impl Transport for Script {
    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        _body: Option<Vec<u8>>,
        _timeout: Duration,
    ) -> Result<super::Answer, String> {
        self.asked
            .borrow_mut()
            .push((method.into(), url.into(), headers.to_vec()));
        let (status, headers, body) = self.answers.borrow_mut().pop().expect("an answer");
        Ok((status, headers, serde_json::to_vec(&body).unwrap()))
    }
    fn sleep(&self, d: Duration) {
        self.slept.borrow_mut().push(d);
    }
    fn now(&self) -> u64 {
        1_000
    }
}

fn ok(body: Value) -> Scripted {
    (200, vec![], body)
}

#[test]
fn lists_follow_next_page_with_the_selector_encoded() {
    let script = Script::new(vec![
        ok(json!({"servers": [{"id": 1}], "meta": {"pagination": {"page": 1, "next_page": 2}}})),
        ok(json!({"servers": [{"id": 2}], "meta": {"pagination": {"page": 2, "next_page": null}}})),
    ]);
    let cloud = Cloud::new("https://api.test/v1/", "tok", &script);
    let all = cloud
        .list("server", &[("label_selector", "lok8s.dev/cluster=a")])
        .unwrap();
    assert_eq!(all, [json!({"id": 1}), json!({"id": 2})]);
    assert_eq!(
        script.urls(),
        [
            "GET https://api.test/v1/servers?label_selector=lok8s%2Edev%2Fcluster%3Da&page=1&per_page=50",
            "GET https://api.test/v1/servers?label_selector=lok8s%2Edev%2Fcluster%3Da&page=2&per_page=50",
        ]
    );
    let auth = &script.asked.borrow()[0].2;
    assert!(auth.contains(&("Authorization".into(), "Bearer tok".into())));
}

#[test]
fn rate_limits_wait_for_the_reset_then_give_up_boundedly() {
    let limited = || {
        (
            429,
            vec![("RateLimit-Reset".to_string(), "1007".to_string())],
            json!({"error": {"code": "rate_limit_exceeded", "message": "limit reached"}}),
        )
    };
    let script = Script::new(vec![limited(), ok(json!({"ssh_keys": []}))]);
    let cloud = Cloud::new("https://api.test/v1", "tok", &script);
    cloud.list("ssh-key", &[]).unwrap();
    assert_eq!(*script.slept.borrow(), [Duration::from_secs(7)]);

    let script = Script::new((0..6).map(|_| limited()).collect());
    let cloud = Cloud::new("https://api.test/v1", "tok", &script);
    let e = cloud.check_token().unwrap_err();
    assert_eq!(e.status, 429);
    assert_eq!(e.code, "rate_limit_exceeded");
    assert!(
        e.to_string()
            .contains("still rate limited after 6 attempts"),
        "{e}"
    );
    assert_eq!(script.slept.borrow().len(), 5);
}

#[test]
fn errors_carry_the_apis_code_and_message_never_the_token() {
    let script = Script::new(vec![(
        422,
        vec![],
        json!({"error": {"code": "invalid_input", "message": "token s3cr3t is not a server type"}}),
    )]);
    let cloud = Cloud::new("https://api.test/v1", "s3cr3t", &script);
    let e = cloud.create("server", &json!({"name": "a"})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Hetzner Cloud API POST /servers: 422 invalid_input: token [HCLOUD_TOKEN] is not a server type"
    );
}

#[test]
fn actions_are_polled_to_success_and_failures_and_expiry_named() {
    let running = json!({"id": 7, "command": "create_server", "status": "running"});
    let script = Script::new(vec![
        ok(json!({"action": running.clone()})),
        ok(json!({"action": {"id": 7, "command": "create_server", "status": "success"}})),
    ]);
    let cloud = Cloud::new("https://api.test/v1", "t", &script);
    cloud.wait(std::slice::from_ref(&running)).unwrap();
    assert_eq!(script.urls().len(), 2);

    let script = Script::new(vec![ok(
        json!({"action": {"id": 7, "command": "create_server",
        "status": "error", "error": {"code": "server_error", "message": "no capacity"}}}),
    )]);
    let cloud = Cloud::new("https://api.test/v1", "t", &script);
    let e = cloud.wait(std::slice::from_ref(&running)).unwrap_err();
    assert_eq!(e.code, "server_error");
    assert!(
        e.message
            .contains("action create_server (7) failed: no capacity"),
        "{e}"
    );

    let script = Script::new(
        (0..3)
            .map(|_| ok(json!({"action": running.clone()})))
            .collect(),
    );
    let mut cloud = Cloud::new("https://api.test/v1", "t", &script);
    cloud.tuning.action_polls = 3;
    let e = cloud.wait(std::slice::from_ref(&running)).unwrap_err();
    assert_eq!(e.code, "action_expired");
    assert!(e.message.contains("still running after 3 polls"), "{e}");
}

#[test]
fn a_delete_of_something_gone_is_not_an_error() {
    let script = Script::new(vec![
        (
            404,
            vec![],
            json!({"error": {"code": "not_found", "message": "server not found"}}),
        ),
        (204, vec![], Value::Null),
    ]);
    let cloud = Cloud::new("https://api.test/v1", "t", &script);
    assert_eq!(cloud.delete("server", 3).unwrap(), None);
    assert_eq!(cloud.delete("server", 4).unwrap(), Some(vec![]));
}
