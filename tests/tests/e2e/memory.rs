//! Host memory a plugin can make capstan hold: request bodies, header fields and linear memory
//! across concurrent calls. Each test reads capstan's resident memory (`/proc/<pid>/status`)
//! while a hostile call runs, checks it stays under a bound, that a well-behaved instance keeps
//! answering during and after the attack, and that resident memory falls back afterwards.
//!
//! The attacks are rows of the hostile-plugin corpus (`hostile.rs` runs them through [`run`]);
//! `cargo test --release -p capstan-tests --test e2e hostile:: -- --nocapture` prints the figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use capstan_tests::capstan::{Capstan, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::upstream::Upstream;
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

const MIB: u64 = 1 << 20;

/// A capstan serving the hostile plugin (with `limits`) as `hostile` and the probe as `good`.
struct Bed {
    _plugins: PluginDir,
    upstream: Upstream,
    capstan: Arc<Capstan>,
    client: Arc<Client>,
}

impl Bed {
    async fn start(limits: &str) -> Self {
        let upstream = Upstream::http().await;
        let plugins = PluginDir::new();
        let manifest = format!(
            "[[targets]]\nname = \"api\"\nurl = \"{}/api\"\n[limits]\n{limits}\n",
            upstream.url()
        );
        plugins.manifest("hostile", "hostile", &manifest);
        plugins.manifest("good", "probe", "");
        let capstan = Capstan::start(&plugins);
        let client = Client::connect(&capstan.url()).await.expect("connecting");
        let bed = Self {
            _plugins: plugins,
            upstream,
            capstan: Arc::new(capstan),
            client: Arc::new(client),
        };
        bed.well_behaved().await;
        bed
    }

    async fn well_behaved(&self) {
        let echo = self
            .client
            .call("good_echo", json!({"text": "still here"}))
            .await
            .expect("calling the well-behaved probe");
        assert!(!is_error(&echo), "{}", text(&echo));
        assert!(text(&echo).contains("still here"));
    }

    /// Runs the hostile `calls` at once while sampling resident memory; returns their results,
    /// the resident memory before and the peak while they ran. The well-behaved probe is
    /// called during the attack and after it.
    async fn attack(&self, calls: Vec<(&str, Value)>) -> (Vec<CallToolResult>, Measured) {
        let before = self.capstan.resident_bytes();
        let peak = Arc::new(AtomicU64::new(before));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (capstan, peak, done) = (self.capstan.clone(), peak.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    peak.fetch_max(capstan.resident_bytes(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        let attacks = calls.into_iter().map(|(tool, arguments)| {
            let client = self.client.clone();
            let tool = format!("hostile_{tool}");
            async move {
                client
                    .call(&tool, arguments)
                    .await
                    .unwrap_or_else(|error| panic!("calling {tool}: {error}"))
            }
        });
        let (results, ()) = tokio::join!(futures::future::join_all(attacks), async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            self.well_behaved().await;
        });
        done.store(true, Ordering::Relaxed);
        sampler.join().expect("the sampler");
        self.well_behaved().await;
        let measured = Measured {
            before,
            peak: peak.load(Ordering::Relaxed),
            after: self.settled(before).await,
        };
        eprintln!("{measured}");
        (results, measured)
    }

    /// Resident memory once it is back near `before`, while the well-behaved probe keeps being
    /// called (a few dozen calls: the pool returns freed instance memory in batches, and the
    /// allocator returns freed pages as its threads run), or after fifty calls.
    async fn settled(&self, before: u64) -> u64 {
        let mut now = self.capstan.resident_bytes();
        for _ in 0..50 {
            if now <= before + 32 * MIB {
                break;
            }
            self.well_behaved().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            now = self.capstan.resident_bytes();
        }
        now
    }
}

struct Measured {
    before: u64,
    peak: u64,
    after: u64,
}

impl Measured {
    fn assert_within(&self, growth: u64, left: u64) {
        assert!(
            self.peak <= self.before + growth,
            "resident memory grew by {} MiB during the attack (bound {} MiB): {self}",
            (self.peak - self.before) / MIB,
            growth / MIB
        );
        assert!(
            self.after <= self.before + left,
            "{} MiB stayed resident after the attack (bound {} MiB): {self}",
            self.after.saturating_sub(self.before) / MIB,
            left / MIB
        );
    }
}

impl std::fmt::Display for Measured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "capstan resident: {} MiB before, {} MiB at the peak, {} MiB after",
            self.before / MIB,
            self.peak / MIB,
            self.after / MIB
        )
    }
}

fn structured(result: &CallToolResult) -> Value {
    result
        .structured_content
        .clone()
        .unwrap_or_else(|| panic!("no structured content: {}", text(result)))
}

/// Runs the memory attack `id` of the corpus; false when `id` is not one.
pub(crate) async fn run(id: &str) -> bool {
    match id {
        "unfinished_request_bodies" => unfinished_request_bodies().await,
        "hoarded_header_fields" => hoarded_header_fields().await,
        "concurrent_memory_hogs" => concurrent_memory_hogs().await,
        _ => return false,
    }
    true
}

async fn unfinished_request_bodies() {
    let bed = Bed::start("memory = \"64MiB\"\ntimeout = \"20s\"").await;
    let url = format!("{}/api/never", bed.upstream.url());
    let (results, measured) = bed
        .attack(vec![(
            "hoard_bodies",
            json!({"url": url, "n": 100, "mib": 7, "ms": 1500}),
        )])
        .await;
    let report = structured(&results[0]);
    eprintln!("{report}");
    measured.assert_within(128 * MIB, 48 * MIB);
    assert!(bed.upstream.seen_with("/never").is_empty());
}

async fn hoarded_header_fields() {
    let bed = Bed::start("memory = \"64MiB\"\ntimeout = \"20s\"").await;
    let (results, measured) = bed
        .attack(vec![(
            "hoard_fields",
            json!({"n": 20_000, "kib": 15, "ms": 1500}),
        )])
        .await;
    eprintln!("{}", text(&results[0]));
    // The header fields are freed when the call ends and the allocator returns their pages at
    // once (`allocator`).
    measured.assert_within(128 * MIB, 32 * MIB);
    let (results, _) = bed
        .attack(vec![(
            "hoard_fields",
            json!({"n": 10, "kib": 100, "ms": 0}),
        )])
        .await;
    // The field-size limit either refuses the append or ends the call; either way no 100 KiB
    // header value is kept.
    let refused_in_guest = results[0]
        .structured_content
        .as_ref()
        .is_some_and(|report| report["made"] == 0);
    let call_ended = results[0].is_error == Some(true)
        && text(&results[0]).contains("total size of fields exceeds limit");
    assert!(
        refused_in_guest || call_ended,
        "a 100 KiB header value was kept: {}",
        text(&results[0])
    );
}

async fn concurrent_memory_hogs() {
    let bed = Bed::start(
        "memory = \"256MiB\"\nmemory_total = \"320MiB\"\ntimeout = \"20s\"\nmax_concurrency = 8",
    )
    .await;
    let calls = (0..8)
        .map(|_| ("hold", json!({"mib": 150, "ms": 1000})))
        .collect();
    let (results, measured) = bed.attack(calls).await;
    let held = results
        .iter()
        .filter(|result| text(result).starts_with("held"))
        .count();
    let refused = results
        .iter()
        .filter(|result| is_error(result) && text(result).contains("memory"))
        .count();
    assert!(held >= 1, "no call could hold its memory");
    assert_eq!(
        held + refused,
        8,
        "{:?}",
        results.iter().map(text).collect::<Vec<_>>()
    );
    measured.assert_within(400 * MIB, 64 * MIB);
}
