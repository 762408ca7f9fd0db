//! A large Argo CD instance end to end: ten thousand applications (an Application list of well
//! over 100 MB, which the fake makes while it writes it) are listed, searched and counted with
//! every default limit, the body streaming through capstan into the plugin, which keeps a page
//! of rows and the counts. Each call's time, the bytes of the list and capstan's peak resident
//! memory (`VmHWM`) are printed, with the time the fake alone takes to write a list; run
//! `cargo test --release --locked --test e2e argocd::large -- --nocapture` to see them. Past
//! the target's `max_streamed`, a list fails with an error that says what to do.

use std::time::{Duration, Instant};

use capstan_tests::fakes::argocd::{ArgoCd, generate};
use serde_json::{Value, json};

use super::Env;

const TEN_THOUSAND: usize = 10_000;
const MIB: u64 = 1 << 20;

/// The sum of a `counts` object's values.
fn counted(counts: &Value) -> u64 {
    counts
        .as_object()
        .expect("counts")
        .values()
        .map(|count| count.as_u64().expect("a count"))
        .sum()
}

/// The generated applications whose names contain `text`, out of `count`: names repeat every
/// round of teams, services and environments, with the round as a suffix after the first.
fn matching(text: &str, count: usize) -> u64 {
    let round: Vec<String> = generate(144)
        .iter()
        .map(|app| app.name().to_owned())
        .collect();
    (0..count)
        .filter(|index| {
            let name = match index / round.len() {
                0 => round[index % round.len()].clone(),
                n => format!("{}-{n}", round[index % round.len()]),
            };
            name.contains(text)
        })
        .count() as u64
}

/// What one call took: its time, the list bytes the fake wrote for it, and capstan's peak
/// resident memory after it.
struct Measured {
    tool: &'static str,
    elapsed: Duration,
    bytes: u64,
    peak: u64,
}

impl std::fmt::Display for Measured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<28} {:>7.2} s  {:>6.1} MB of applications  capstan peak resident (VmHWM) {} MiB",
            self.tool,
            self.elapsed.as_secs_f64(),
            self.bytes as f64 / 1e6,
            self.peak / MIB
        )
    }
}

#[tokio::test]
async fn ten_thousand_applications_are_listed_searched_and_counted_within_the_default_limits() {
    let env = Env::start(ArgoCd::new().with_listed_apps(TEN_THOUSAND), "").await;
    let pid = env.capstan().pid();
    let started = capstan_tests::capstan::peak_resident_bytes(pid);
    let mut measured = Vec::new();
    let mut call = async |tool: &'static str, arguments: Value| {
        let before = env.argocd.listed_bytes();
        let clock = Instant::now();
        let answer = env.ok(tool, arguments).await;
        measured.push(Measured {
            tool,
            elapsed: clock.elapsed(),
            bytes: env.argocd.listed_bytes() - before,
            peak: capstan_tests::capstan::peak_resident_bytes(pid),
        });
        answer
    };

    let listed = call("list_applications", json!({})).await;
    assert_eq!(
        (listed["total"].as_u64(), listed["returned"].as_u64()),
        (Some(10_000), Some(25)),
        "{listed}"
    );
    assert_eq!(counted(&listed["counts"]["health"]), 10_000);
    assert_eq!(counted(&listed["counts"]["sync"]), 10_000);
    assert!(listed["counts"]["health"]["Degraded"].as_u64() > Some(100));

    let text = "payments-api-prod";
    let searched = call(
        "list_applications",
        json!({"search": text, "wide": true, "limit": 100}),
    )
    .await;
    assert_eq!(
        searched["total"].as_u64(),
        Some(matching(text, TEN_THOUSAND))
    );
    let rows = searched["applications"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|row| row["name"].as_str().unwrap().contains(text) && row["repo"].is_string()),
        "{searched}"
    );

    let degraded = call(
        "list_applications",
        json!({"healthStatus": "Degraded", "limit": 1}),
    )
    .await;
    assert_eq!(degraded["total"], listed["counts"]["health"]["Degraded"]);
    let fleet = call("fleet_applications", json!({"limit": 10})).await;
    assert_eq!(fleet["listed"], 10_000);
    assert_eq!(fleet["counts"], listed["counts"]);
    assert_eq!(fleet["applications"][0]["health"], "Degraded");

    // The fake alone: how long it takes to make and write one list, read and dropped here.
    let clock = Instant::now();
    let mut response = reqwest::Client::new()
        .get(format!("{}/api/v1/applications", env.argocd.base_url()))
        .bearer_auth(super::TOKEN)
        .send()
        .await
        .unwrap();
    let mut direct = 0;
    while let Some(chunk) = response.chunk().await.unwrap() {
        direct += chunk.len() as u64;
    }
    let fake_alone = clock.elapsed();

    let bytes = measured[0].bytes;
    assert_eq!(direct, bytes);
    eprintln!(
        "ten thousand applications, {:.1} MB a list; capstan peak resident (VmHWM) {} MiB at the \
         start",
        bytes as f64 / 1e6,
        started / MIB
    );
    for line in &measured {
        eprintln!("{line}");
    }
    eprintln!(
        "{:<28} {:>7.2} s  (the fake making and writing one list, read directly)",
        "fake Argo CD alone",
        fake_alone.as_secs_f64()
    );
    assert!(bytes > 100_000_000, "the list runs to {bytes} bytes");
    assert!(
        measured.iter().all(|line| line.bytes == bytes),
        "every call read the whole list"
    );
    let peak = measured.iter().map(|line| line.peak).max().unwrap_or(0);
    assert!(
        peak < 300 * MIB,
        "capstan's peak resident memory reached {} MiB",
        peak / MIB
    );
    for sent in env.api() {
        assert_eq!(
            (sent.method.as_str(), sent.path.as_str()),
            ("GET", "/api/v1/applications")
        );
    }
    for request in env.argocd.requests() {
        assert_eq!(
            request.header("capstan-response"),
            None,
            "capstan's own header stays inside capstan"
        );
    }
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn a_list_past_the_targets_max_streamed_fails_saying_what_to_do() {
    let env = Env::start_with_target(
        ArgoCd::new().with_listed_apps(TEN_THOUSAND),
        "",
        "max_streamed = \"40MiB\"",
    )
    .await;
    let message = env.fails("list_applications", json!({})).await;
    assert!(
        message.contains("larger than 40 MiB")
            && message.contains("raise the target's `max_streamed`")
            && message.contains("projects, selector, repo or appNamespace"),
        "{message}"
    );
    let fleet = env.fails("fleet_applications", json!({})).await;
    assert!(
        fleet.contains("prod: its answer was too large") && fleet.contains("max_streamed"),
        "{fleet}"
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn a_ten_thousand_application_list_fits_in_a_small_guest_memory() {
    // A 16 MiB linear memory: an eighth of the list, which the plugin never holds.
    let env = Env::start(
        ArgoCd::new().with_listed_apps(TEN_THOUSAND),
        "[limits]\nmemory = \"16MiB\"",
    )
    .await;
    let answer = env
        .ok(
            "list_applications",
            json!({"search": "checkout", "healthStatus": "Degraded", "wide": true}),
        )
        .await;
    assert!(answer["total"].as_u64() > Some(0), "{answer}");
    assert!(env.argocd.listed_bytes() > 100_000_000);
}
