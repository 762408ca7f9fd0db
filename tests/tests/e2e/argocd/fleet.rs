//! `fleet_applications` over a fleet: one capstan instance with 50 Argo CD targets, each a fake
//! Argo CD of its own (all served by this test's runtime), three of them failing differently:
//! one answers after the call's `targetTimeoutSeconds`, one is a port nobody listens on, one refuses the
//! token with 403. The call answers for the 47 others, names the three with why, counts and
//! sorts across the fleet and pages; every request the fakes saw keeps Argo CD's contract.

use std::time::{Duration, Instant};

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::fakes::argocd::{self, Application, ArgoCd, ArgoCdServer, Fault};
use serde_json::{Value, json};

use super::{Sent, TOKEN, lines};

const TARGETS: usize = 50;
const SLOW: usize = 7;
const DOWN: usize = 23;
const LOCKED: usize = 41;

fn target(n: usize) -> String {
    format!("argocd-{n:02}")
}

/// Target `n`'s applications: `web-n` (project shop), `checkout-n` (payments; Degraded on
/// every tenth target from the fourth) and `ledger-n` (payments; OutOfSync on every fifth
/// target from the second).
fn estate(n: usize) -> ArgoCd {
    let checkout = Application::new(&format!("checkout-{n:02}"))
        .project("payments")
        .label("team", "payments");
    let checkout = if n % 10 == 3 {
        checkout.health(
            "Degraded",
            Some("Deployment has exceeded its progress deadline"),
        )
    } else {
        checkout
    };
    let ledger = Application::new(&format!("ledger-{n:02}"))
        .project("payments")
        .label("team", "payments");
    let ledger = if n % 5 == 1 {
        ledger.sync("OutOfSync")
    } else {
        ledger
    };
    ArgoCd::new()
        .with_app(
            Application::new(&format!("web-{n:02}"))
                .project("shop")
                .label("team", "shop"),
        )
        .with_app(checkout)
        .with_app(ledger)
        .with_base_path("/argocd")
        .with_token(TOKEN)
}

/// The fleet's `target/name` rows a payments query should answer, in order: Degraded, then
/// OutOfSync, then the rest, each by target and name.
fn expected_rows() -> Vec<String> {
    let answering = (0..TARGETS).filter(|n| ![SLOW, DOWN, LOCKED].contains(n));
    let mut rows: Vec<(u8, usize, String)> = Vec::new();
    for n in answering {
        let degraded = n % 10 == 3;
        let out_of_sync = n % 5 == 1;
        rows.push((u8::from(!degraded) * 2, n, format!("checkout-{n:02}")));
        rows.push((u8::from(!out_of_sync) + 1, n, format!("ledger-{n:02}")));
    }
    rows.sort();
    rows.into_iter()
        .map(|(_, n, name)| format!("{}/{name}", target(n)))
        .collect()
}

fn rows(answer: &Value) -> Vec<String> {
    answer["applications"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            format!(
                "{}/{}",
                row["target"].as_str().unwrap(),
                row["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_targets_answer_in_one_call_with_the_three_that_failed_named() {
    let started = Instant::now();
    let mut fakes: Vec<Option<ArgoCdServer>> = Vec::with_capacity(TARGETS);
    let mut manifest = String::from("prefix = \"\"\nread_only = true\n");
    for n in 0..TARGETS {
        let (url, fake) = if n == DOWN {
            (format!("http://127.0.0.1:{}/argocd", closed_port()), None)
        } else {
            let fake = argocd::start(estate(n)).await.unwrap();
            (fake.base_url(), Some(fake))
        };
        manifest.push_str(&format!(
            "\n[[targets]]\nname = \"{}\"\nurl = \"{url}\"\nauth = {{ bearer_env = \"ARGOCD_TOKEN\" }}\ntimeout = \"10s\"\n",
            target(n)
        ));
        fakes.push(fake);
    }
    let fake = |n: usize| fakes[n].as_ref().expect("a fake");
    fake(SLOW).inject(
        "ApplicationService_List",
        Fault::Slow(Duration::from_secs(5)),
    );
    fake(LOCKED).inject("ApplicationService_List", Fault::Status(403));
    let plugins = PluginDir::new();
    plugins.manifest("argocd", "argocd", &manifest);
    let options = Options {
        env: vec![("ARGOCD_TOKEN".into(), TOKEN.into())],
        ..Default::default()
    };
    let capstan = Capstan::start_with(&plugins, options);
    let client = Client::connect(&capstan.url()).await.unwrap();
    eprintln!(
        "50 fake Argo CDs and capstan ready in {:?}",
        started.elapsed()
    );

    let arguments = json!({"projects": ["payments"], "selector": "team=payments", "limit": 10,
                           "targetTimeoutSeconds": 2});
    let called = Instant::now();
    let result = client
        .call("fleet_applications", arguments.clone())
        .await
        .unwrap();
    let took = called.elapsed();
    assert!(!is_error(&result), "{}", text(&result));
    let answer = result
        .structured_content
        .clone()
        .expect("structured content");
    eprintln!(
        "fleet_applications over {TARGETS} targets: {took:?}, answer {} bytes (structuredContent), {} bytes (text)",
        answer.to_string().len(),
        text(&result).len()
    );

    assert_eq!(
        answer["targets"],
        json!({"asked": 50, "answered": 47, "failed": 3})
    );
    let failed: Vec<(&str, &str)> = answer["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["target"].as_str().unwrap(), f["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        failed,
        [
            ("argocd-07", "timeout"),
            ("argocd-23", "unreachable"),
            ("argocd-41", "credentials"),
        ]
    );
    eprintln!("failed: {:#}", answer["failed"]);
    let message = |n: usize| answer["failed"][n]["message"].as_str().unwrap().to_owned();
    assert!(
        message(0).contains("pass a longer `targetTimeoutSeconds`"),
        "{}",
        message(0)
    );
    assert!(
        message(1).starts_with("could not be reached"),
        "{}",
        message(1)
    );
    assert!(
        message(2).starts_with("refused the token (HTTP 403 (gRPC code 7 PermissionDenied)")
            && message(2).contains("check the `auth` of target `argocd-41`"),
        "{}",
        message(2)
    );
    assert_eq!(answer["failed"][2]["status"], 403);

    // Counts: two payments applications on each of the 47; Degraded on targets 3, 13, 33 and
    // 43 (23 is down), OutOfSync on 1, 6, …, 46 but 41 (which refused).
    assert_eq!(answer["listed"], 94);
    assert_eq!(answer["total"], 94);
    assert_eq!(
        answer["counts"],
        json!({"health": {"Degraded": 4, "Healthy": 90}, "sync": {"OutOfSync": 9, "Synced": 85}})
    );
    let by_target = answer["byTarget"].as_array().unwrap();
    assert_eq!(by_target.len(), 47);
    assert_eq!(
        by_target[3],
        json!({"target": "argocd-03", "listed": 2, "matched": 2,
               "health": {"Degraded": 1, "Healthy": 1}, "sync": {"Synced": 2}})
    );

    // Sorted and paged: Degraded, then OutOfSync, then the rest.
    let expected = expected_rows();
    assert_eq!(rows(&answer), expected[..10]);
    assert_eq!(
        rows(&answer)[..5],
        [
            "argocd-03/checkout-03",
            "argocd-13/checkout-13",
            "argocd-33/checkout-33",
            "argocd-43/checkout-43",
            "argocd-01/ledger-01",
        ]
    );
    assert_eq!(answer["applications"][0]["health"], "Degraded");
    assert_eq!(answer["applications"][0]["project"], "payments");
    assert_eq!(
        answer["applications"][0]["revision"]
            .as_str()
            .unwrap()
            .len(),
        7
    );
    assert_eq!(
        (&answer["hasMore"], &answer["nextOffset"]),
        (&json!(true), &json!(10))
    );
    let hint = answer["hint"].as_str().unwrap();
    assert!(
        hint.starts_with("3 of 50 targets did not answer") && hint.contains("offset 10"),
        "{hint}"
    );

    // The next page, asked of the answering targets only.
    let answering: Vec<String> = (0..TARGETS)
        .filter(|n| ![SLOW, DOWN, LOCKED].contains(n))
        .map(target)
        .collect();
    let mut next = arguments.clone();
    next["offset"] = json!(10);
    next["targets"] = json!(answering);
    let called = Instant::now();
    let page = client.call("fleet_applications", next).await.unwrap();
    let second = called.elapsed();
    assert!(!is_error(&page), "{}", text(&page));
    let page = page.structured_content.expect("structured content");
    eprintln!("the next page over the 47 that answer: {second:?}");
    assert_eq!(page["targets"]["failed"], 0);
    assert_eq!(rows(&page), expected[10..20]);
    assert_eq!(page["nextOffset"], 20);
    assert!(
        second < Duration::from_secs(2),
        "without the slow target no wave waits for a timeout: {second:?}"
    );

    // Each answering Argo CD saw one filtered list per call, with the token, within the
    // contract; the one that refused saw it too.
    for n in (0..TARGETS).filter(|n| *n != DOWN) {
        let sent: Vec<Sent> = fake(n).requests().iter().map(Sent::from).collect();
        let expected_calls = if [SLOW, LOCKED].contains(&n) { 1 } else { 2 };
        assert_eq!(
            lines(&sent),
            vec![
                "GET /api/v1/applications?projects=payments&selector=team=payments".to_owned();
                expected_calls
            ],
            "{}",
            target(n)
        );
        assert!(sent.iter().all(|sent| sent.authorized), "{}", target(n));
        fake(n).assert_no_violations();
    }
    assert!(
        took < Duration::from_secs(8),
        "one wave waits for the slow target's 2 s timeout, not the whole call: {took:?}"
    );
}
