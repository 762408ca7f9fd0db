//! The default answers on applications as large as real ones (the fake's generated
//! applications: 8 to 16 managed objects, ten deployments, the last sync's result): at most a
//! tenth of what Argo CD serves for the same question, still carrying what an agent acts on,
//! with a way to ask for the rest; and a list of thousands that answers in one small page.

use capstan_sdk::fixture::Fixture;
use capstan_sdk::{Value, json};

use super::{APPS, argocd, ok, parse};

/// Generated applications 0 to 4 (Healthy, then Progressing), 10 (Degraded: its pods
/// crash-loop), 16 (Suspended) and 20 (OutOfSync: an admission webhook refused its Ingress).
const GENERATED: [(usize, &str); 8] = [
    (0, super::recorded!("generated/app-0.json")),
    (1, super::recorded!("generated/app-1.json")),
    (2, super::recorded!("generated/app-2.json")),
    (3, super::recorded!("generated/app-3.json")),
    (4, super::recorded!("generated/app-4.json")),
    (10, super::recorded!("generated/app-10.json")),
    (16, super::recorded!("generated/app-16.json")),
    (20, super::recorded!("generated/app-20.json")),
];

/// Resource trees of generated applications 0 to 3 and 10.
const TREES: [(usize, &str); 5] = [
    (0, super::recorded!("generated/tree-0.json")),
    (1, super::recorded!("generated/tree-1.json")),
    (2, super::recorded!("generated/tree-2.json")),
    (3, super::recorded!("generated/tree-3.json")),
    (10, super::recorded!("generated/tree-10.json")),
];

fn generated(index: usize) -> Value {
    let (_, text) = GENERATED.iter().find(|(n, _)| *n == index).unwrap();
    parse(text)
}

fn name(app: &Value) -> String {
    app["metadata"]["name"].as_str().unwrap().to_owned()
}

/// What a model reads of an answer: the JSON text the host copies from it.
fn size(answer: &Value) -> usize {
    answer.to_string().len()
}

/// Every recorded generated application and tree, served by name.
fn estate() -> Fixture {
    let mut fixture = argocd();
    for (index, text) in GENERATED {
        let app = parse(text);
        fixture = fixture.on_json("GET", &format!("{APPS}/{}", name(&app)), text);
        if let Some((_, tree)) = TREES.iter().find(|(n, _)| *n == index) {
            fixture = fixture.on_json("GET", &format!("{APPS}/{}/resource-tree", name(&app)), tree);
        }
    }
    fixture
}

/// A list of `count` applications: the recorded ones over and over, each under its own name.
fn list_of(count: usize) -> (String, usize) {
    let apps: Vec<Value> = GENERATED.iter().map(|(_, text)| parse(text)).collect();
    let items: Vec<Value> = (0..count)
        .map(|n| {
            let mut app = apps[n % apps.len()].clone();
            app["metadata"]["name"] = json!(format!("{}-{n:04}", name(&app)));
            app
        })
        .collect();
    let objects = items.iter().map(size).sum();
    (json!({"metadata": {}, "items": items}).to_string(), objects)
}

#[test]
fn default_answers_are_a_tenth_of_what_argo_cd_serves() {
    let fixture = estate();
    for index in [0, 1, 2, 3, 4, 10, 16] {
        let app = generated(index);
        let name = name(&app);
        let get = size(&ok(
            &fixture,
            "get_application",
            json!({"applicationName": name}),
        ));
        assert!(
            get * 10 <= size(&app),
            "{name}: get_application {get} of {}",
            size(&app)
        );
        if index > 3 {
            continue;
        }
        // The objects that need attention are listed, so only healthy trees shrink tenfold.
        let tree = size(&ok(
            &fixture,
            "get_application_resource_tree",
            json!({"applicationName": name}),
        ));
        let nodes = size(&ok(
            &fixture,
            "get_application_resource_tree",
            json!({"applicationName": name, "detail": true, "limit": 1000}),
        ));
        assert!(tree * 10 <= nodes, "{name}: tree {tree} of {nodes}");
    }
    let (list, objects) = list_of(60);
    let listing = argocd().on_json("GET", APPS, &list);
    let answer = size(&ok(&listing, "list_applications", json!({})));
    assert!(
        answer * 100 <= objects,
        "list_applications {answer} of {objects}"
    );
}

#[test]
fn a_failed_sync_shows_what_was_refused_and_why() {
    let app = generated(20);
    let name = name(&app);
    let answer = ok(
        &estate(),
        "get_application",
        json!({"applicationName": name}),
    );
    assert_eq!(
        (
            answer["summary"]["sync"].as_str(),
            answer["summary"]["operation"].as_str()
        ),
        (Some("OutOfSync"), Some("Failed"))
    );
    let operation = &answer["status"]["operation"];
    assert!(
        operation["message"]
            .as_str()
            .unwrap()
            .contains("require-ingress-tls"),
        "{operation}"
    );
    assert_eq!(
        operation["failed"],
        json!([{"kind": "Ingress", "name": name}])
    );
    assert_eq!(operation["retries"], 5);
    assert_eq!(answer["status"]["conditions"][0]["type"], "SyncError");
    let history = answer["status"]["recentHistory"].as_array().unwrap();
    assert_eq!(
        (history.len(), history[0]["id"].as_u64()),
        (3, Some(10)),
        "the last three of ten deployments, newest first"
    );
}

#[test]
fn a_degraded_tree_names_the_failing_pods_and_hides_the_healthy_rest() {
    let name = name(&generated(10));
    let fixture = estate();
    let tree = ok(
        &fixture,
        "get_application_resource_tree",
        json!({"applicationName": name}),
    );
    let total = tree["total"].as_u64().unwrap();
    assert!(total >= 15, "{tree}");
    let attention = tree["attention"].as_array().unwrap();
    let pods: Vec<&Value> = attention.iter().filter(|n| n["kind"] == "Pod").collect();
    assert!(
        !pods.is_empty() && pods.len() < attention.len(),
        "the failing pods and their owners: {attention:?}"
    );
    assert!(
        pods.iter()
            .all(|pod| pod["info"].as_str().unwrap().contains("Status Reason: ")),
        "{pods:?}"
    );
    assert!(
        attention.len() < 8,
        "healthy objects and completed jobs are counted, not listed"
    );
    assert!(tree["hint"].as_str().unwrap().contains("all: true"));
    let pods = ok(
        &fixture,
        "get_application_resource_tree",
        json!({"applicationName": name, "kind": "Pod"}),
    );
    assert_eq!(
        pods["total"], tree["counts"]["byKind"]["Pod"],
        "a filter lists every object of the kind"
    );
}

#[test]
fn two_thousand_applications_answer_in_one_small_page_that_says_how_to_page() {
    let (list, _) = list_of(2000);
    let fixture = argocd().on_json("GET", APPS, &list);
    let answer = ok(&fixture, "list_applications", json!({}));
    assert!(
        size(&answer) < 8 * 1024,
        "the default answer is {} bytes",
        size(&answer)
    );
    assert_eq!(
        (answer["total"].as_u64(), answer["returned"].as_u64()),
        (Some(2000), Some(25))
    );
    assert!(
        answer["hint"].as_str().unwrap().contains("offset 25"),
        "{}",
        answer["hint"]
    );
    let counted: u64 = answer["counts"]["health"]
        .as_object()
        .unwrap()
        .values()
        .map(|count| count.as_u64().unwrap())
        .sum();
    assert_eq!(counted, 2000);
    assert_eq!(answer["counts"]["health"]["Degraded"], 250);
    let first = &answer["applications"][0];
    assert!(
        first.get("repo").is_none() && first.get("namespace").is_none(),
        "{first}"
    );
    let last = ok(
        &fixture,
        "list_applications",
        json!({"offset": 1990, "limit": 500}),
    );
    assert_eq!(
        (last["returned"].as_u64(), last["hasMore"].as_bool()),
        (Some(10), Some(false))
    );
    let degraded = ok(
        &fixture,
        "list_applications",
        json!({"healthStatus": "Degraded", "projects": ["payments"]}),
    );
    assert!(
        degraded["applications"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["health"] == "Degraded")
    );
    let detail = ok(&fixture, "list_applications", json!({"detail": true}));
    assert_eq!(
        detail["returned"], 5,
        "full objects come five at a time unless asked"
    );
    assert!(detail["applications"][0]["status"]["resources"].is_array());
    assert_eq!(
        fixture.request_lines()[2],
        "GET /api/v1/applications?projects=payments"
    );
}
