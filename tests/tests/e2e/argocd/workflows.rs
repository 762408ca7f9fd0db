//! The workflow tools and the prompts: creating applications from a repository's directories,
//! deploying with progress and rollback, diagnosing a degraded application.

use capstan_tests::client::Recorded;
use capstan_tests::fakes::argocd::Cause;
use capstan_tests::fakes::demo::PLATFORM_REPO;
use serde_json::json;

use super::{Env, lines};

#[tokio::test]
async fn applications_from_directories_are_a_dry_run_until_asked() {
    let env = Env::demo().await;
    let arguments = json!({"repo": PLATFORM_REPO, "path": "apps", "project": "platform", "namePrefix": "platform-",
                           "appOfApps": "platform-root", "appOfAppsPath": "bootstrap"});
    let plan = env
        .ok("create_applications_from_directories", arguments.clone())
        .await;
    assert_eq!(plan["dryRun"], true);
    let names: Vec<&str> = plan["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "platform-external-dns",
            "platform-kyverno",
            "platform-sealed-secrets",
            "platform-velero",
            "platform-root"
        ]
    );
    assert!(
        env.api().iter().all(|sent| sent.method == "GET"),
        "a dry run writes nothing"
    );
    let mut create = arguments;
    create["dryRun"] = json!(false);
    let done = env.ok("create_applications_from_directories", create).await;
    assert_eq!(done["created"].as_array().unwrap().len(), 5);
    let velero = env.argocd.application("platform-velero").unwrap();
    assert_eq!(velero["spec"]["source"]["path"], "apps/velero");
    assert_eq!(velero["spec"]["destination"]["namespace"], "velero");
    assert_eq!(
        velero["metadata"]["labels"]["app.kubernetes.io/part-of"],
        "platform-root"
    );
    assert_eq!(
        env.argocd.application("platform-root").unwrap()["spec"]["source"]["path"],
        "bootstrap"
    );
    let again = env.ok("create_applications_from_directories", json!({"repo": PLATFORM_REPO, "path": "apps", "project": "default",
                                                                       "namePrefix": "platform-", "dryRun": false})).await;
    assert_eq!(
        again["failed"].as_array().unwrap().len(),
        4,
        "existing apps with another spec are reported, not replaced"
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn deploy_and_watch_reports_progress_until_healthy() {
    let env = Env::demo().await;
    let result = env
        .client
        .call_with_progress(
            "deploy_and_watch",
            json!({"applicationName": "search-api", "revision": "v3.9.0",
                                                       "pollSeconds": 0.1, "timeoutSeconds": 20}),
            "deploy-1",
        )
        .await
        .unwrap();
    let answer = result.structured_content.clone().unwrap();
    assert_eq!(answer["outcome"], "Healthy", "{answer}");
    assert_eq!(answer["summary"]["sync"], "Synced");
    assert_eq!(
        answer["summary"]["revision"], answer["revision"],
        "the summary names the revision now deployed"
    );
    let steps: Vec<&str> = answer["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["event"].as_str().unwrap())
        .collect();
    assert!(
        steps[0].starts_with("sync started to revision "),
        "{steps:?}"
    );
    assert!(
        steps.last().unwrap().contains("health Healthy"),
        "{steps:?}"
    );
    let progressed = env
        .client
        .wait_for(std::time::Duration::from_secs(5), |r: &Recorded| {
            r.progress.len() >= steps.len()
        })
        .await;
    assert!(progressed, "one progress notification per step");
    let sent = lines(&env.api());
    assert_eq!(sent[0], "POST /api/v1/applications/search-api/sync");
    assert!(
        sent[1..]
            .iter()
            .all(|line| line == "GET /api/v1/applications/search-api"),
        "{sent:?}"
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn deploy_and_watch_rolls_back_a_degraded_deployment_when_asked() {
    let env = Env::demo().await;
    env.argocd
        .degrade_next_sync("helm-guestbook", Cause::CrashLoop);
    let answer = env
        .ok(
            "deploy_and_watch",
            json!({"applicationName": "helm-guestbook", "revision": "broken",
                                       "pollSeconds": 0.1, "rollbackOnDegraded": true}),
        )
        .await;
    assert_eq!(answer["outcome"], "RolledBack", "{answer}");
    let steps = answer["steps"].to_string();
    assert!(
        steps.contains("health Degraded") && steps.contains("rolling back to deployment 2"),
        "{steps}"
    );
    let app = env.argocd.application("helm-guestbook").unwrap();
    let history = app["status"]["history"].as_array().unwrap();
    assert_eq!(history.len(), 4);
    assert_eq!(
        history[3]["revision"], history[1]["revision"],
        "the rollback redeployed the previous revision"
    );
    assert_eq!(app["status"]["health"]["status"], "Healthy");
    assert!(
        env.api()
            .iter()
            .any(|sent| sent.line() == "POST /api/v1/applications/helm-guestbook/rollback")
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn deploy_and_watch_stops_at_a_failed_sync_or_the_deadline() {
    let env = Env::demo().await;
    env.argocd
        .fail_next_sync("guestbook", "one or more objects failed to apply");
    let failed = env
        .ok(
            "deploy_and_watch",
            json!({"applicationName": "guestbook", "pollSeconds": 0.1}),
        )
        .await;
    assert_eq!(failed["outcome"], "SyncFailed");
    assert!(failed["steps"].to_string().contains("failed to apply"));
    let timed = env
        .ok(
            "deploy_and_watch",
            json!({"applicationName": "search-api", "pollSeconds": 0.5, "timeoutSeconds": 1}),
        )
        .await;
    assert_eq!(timed["outcome"], "TimedOut", "{timed}");
    env.argocd.assert_no_violations();
}

async fn causes(env: &Env, app: &str) -> Vec<String> {
    let answer = env
        .ok("diagnose_application", json!({"applicationName": app}))
        .await;
    answer["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cause"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn diagnose_names_the_causes_it_recognises() {
    let env = Env::demo().await;
    assert_eq!(
        causes(&env, "recommendations").await,
        ["CrashLoop", "WrongEnvironmentConfig"]
    );
    assert_eq!(
        causes(&env, "kube-prometheus-stack").await,
        ["OOMKilled", "CrashLoop"]
    );
    for (cause, expected) in [
        (Cause::ImagePull, "ImagePullError"),
        (Cause::ProbeFailed, "ProbeFailure"),
        (Cause::Quota, "QuotaOrLimitExceeded"),
    ] {
        env.argocd.degrade_next_sync("search-api", cause);
        env.ok(
            "deploy_and_watch",
            json!({"applicationName": "search-api", "pollSeconds": 0.05}),
        )
        .await;
        assert_eq!(causes(&env, "search-api").await, [expected], "{cause:?}");
    }
    let report = env
        .ok(
            "diagnose_application",
            json!({"applicationName": "recommendations"}),
        )
        .await;
    assert!(!report["events"].as_array().unwrap().is_empty());
    assert!(
        report["logs"]
            .as_object()
            .unwrap()
            .values()
            .all(|lines| !lines.as_array().unwrap().is_empty())
    );
    assert!(
        report["causes"][0]["advice"]
            .as_str()
            .unwrap()
            .contains("logs")
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn the_prompts_walk_through_the_recipes() {
    let env = Env::demo().await;
    let prompts = env.client.service().list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["safe_deploy", "troubleshoot_application"]);
    let mut arguments = serde_json::Map::new();
    arguments.insert("applicationName".into(), json!("payments-api"));
    arguments.insert("revision".into(), json!("v2.15.0"));
    let params = rmcp::model::GetPromptRequestParams::new("safe_deploy").with_arguments(arguments);
    let prompt = env.client.service().get_prompt(params).await.unwrap();
    let text = serde_json::to_string(&prompt.messages).unwrap();
    assert!(
        text.contains("deploy_and_watch")
            && text.contains("v2.15.0")
            && text.contains("payments-api"),
        "{text}"
    );
}
