//! The default answers on applications as large as real ones: at most a tenth of what Argo CD
//! serves for the same question, still carrying what an agent acts on (what failed and why,
//! what needs attention), with a way to ask for the rest; and a list of thousands that answers
//! in one small page.

use capstan_tests::client::text;
use capstan_tests::fakes::argocd::{ArgoCd, generate};
use serde_json::{Value, json};

use super::Env;

/// The size of what a model reads of `tool`'s answer.
async fn text_size(env: &Env, tool: &str, arguments: Value) -> usize {
    text(&env.call(tool, arguments).await).len()
}

#[tokio::test]
async fn default_answers_are_a_tenth_of_what_argo_cd_serves() {
    let env = Env::start(ArgoCd::new().with_generated_apps(60), "read_only = true").await;
    let apps = generate(60);
    // Healthy apps, then a Progressing, a Degraded and a Suspended one.
    for index in [0, 1, 2, 3, 4, 10, 16] {
        let name = apps[index].name();
        let app = json!({"applicationName": name});
        let get = text_size(&env, "get_application", app.clone()).await;
        let object = env.argocd.application(name).unwrap().to_string().len();
        assert!(
            get * 10 <= object,
            "{name}: get_application {get} of {object}"
        );
        if index > 3 {
            continue;
        }
        // The objects that need attention are listed, so only healthy trees shrink tenfold.
        let tree = text_size(&env, "get_application_resource_tree", app).await;
        let all = json!({"applicationName": name, "detail": true, "limit": 1000});
        let nodes = text_size(&env, "get_application_resource_tree", all).await;
        assert!(tree * 10 <= nodes, "{name}: tree {tree} of {nodes}");
    }
    let list = text_size(&env, "list_applications", json!({})).await;
    let objects: usize = apps
        .iter()
        .map(|app| {
            env.argocd
                .application(app.name())
                .unwrap()
                .to_string()
                .len()
        })
        .sum();
    assert!(
        list * 100 <= objects,
        "list_applications {list} of {objects}"
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn a_failed_sync_shows_what_was_refused_and_why() {
    let env = Env::start(ArgoCd::new().with_generated_apps(60), "read_only = true").await;
    // Application 20 is OutOfSync after an admission webhook refused its Ingress.
    let name = generate(60)[20].name().to_owned();
    let answer = env
        .ok("get_application", json!({"applicationName": name}))
        .await;
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
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn a_degraded_tree_names_the_failing_pods_and_hides_the_healthy_rest() {
    let env = Env::start(ArgoCd::new().with_generated_apps(60), "read_only = true").await;
    // Application 10 is Degraded: its pods crash-loop.
    let name = generate(60)[10].name().to_owned();
    let tree = env
        .ok(
            "get_application_resource_tree",
            json!({"applicationName": name}),
        )
        .await;
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
    let pods = env
        .ok(
            "get_application_resource_tree",
            json!({"applicationName": name, "kind": "Pod"}),
        )
        .await;
    assert_eq!(
        pods["total"], tree["counts"]["byKind"]["Pod"],
        "a filter lists every object of the kind"
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn two_thousand_applications_answer_in_one_small_page_that_says_how_to_page() {
    let env = Env::start(ArgoCd::new().with_generated_apps(2000), "read_only = true").await;
    let result = env.call("list_applications", json!({})).await;
    let size = text(&result).len();
    assert!(size < 8 * 1024, "the default answer is {size} bytes");
    let answer = result.structured_content.unwrap();
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
    assert!(answer["counts"]["health"]["Degraded"].as_u64().unwrap() > 100);
    let first = &answer["applications"][0];
    assert!(
        first.get("repo").is_none() && first.get("namespace").is_none(),
        "{first}"
    );
    let last = env
        .ok("list_applications", json!({"offset": 1990, "limit": 500}))
        .await;
    assert_eq!(
        (last["returned"].as_u64(), last["hasMore"].as_bool()),
        (Some(10), Some(false))
    );
    let degraded = env
        .ok(
            "list_applications",
            json!({"healthStatus": "Degraded", "projects": ["payments"]}),
        )
        .await;
    assert!(
        degraded["applications"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["health"] == "Degraded")
    );
    let detail = env.ok("list_applications", json!({"detail": true})).await;
    assert_eq!(
        detail["returned"], 5,
        "full objects come five at a time unless asked"
    );
    assert!(detail["applications"][0]["status"]["resources"].is_array());
    env.argocd.assert_no_violations();
}
