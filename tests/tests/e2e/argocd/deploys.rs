//! Deploying a version and rolling back the way Argo CD behaves, through a real capstan and a
//! real MCP client against the fake Argo CD: a Kustomize image that degrades an application with
//! automated sync is rolled back (automated sync turned off, as Argo CD requires, and turned on
//! again on request), and a Degraded that recovers within the grace period ends Healthy.

use capstan_tests::client::Recorded;
use capstan_tests::fakes::argocd::{Application, ArgoCd, Cause};
use serde_json::{Value, json};

use super::{Env, lines};

const IMAGE: &str = "ghcr.io/example-org/shop:1.2.3";

/// An application deploying the Kustomize overlay of `shop` with its image pinned, automated
/// sync on (prune, selfHeal), two deployments in its history.
fn shop() -> ArgoCd {
    ArgoCd::new().with_app(
        Application::new("shop")
            .git(
                "https://github.com/example-org/shop-deploy.git",
                "overlays/prod",
                "main",
            )
            .kustomize_image(IMAGE),
    )
}

fn events(answer: &Value) -> Vec<String> {
    answer["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["event"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_kustomize_image_that_degrades_is_rolled_back_and_automated_sync_is_left_off() {
    let env = Env::start(shop(), "").await;
    env.argocd.degrade_next_sync("shop", Cause::ImagePull);
    let result = env
        .client
        .call_with_progress(
            "deploy_and_watch",
            json!({"applicationName": "shop", "kustomizeImages": ["ghcr.io/example-org/shop:1.3.0"],
                   "rollbackOnDegraded": true, "degradedGraceSeconds": 0.5, "pollSeconds": 0.2,
                   "timeoutSeconds": 20}),
            "deploy-shop",
        )
        .await
        .unwrap();
    let answer = result.structured_content.clone().unwrap();
    assert_eq!(answer["outcome"], "RolledBack", "{answer}");
    let events = events(&answer);
    assert!(
        events[0].starts_with("spec changed: kustomize image ghcr.io/example-org/shop:1.3.0 (was ghcr.io/example-org/shop:1.2.3)"),
        "{events:?}"
    );
    assert!(
        events.contains(
            &"automated sync had already started syncing the change; watching that operation"
                .to_owned()
        ),
        "Argo CD's controller synced the changed spec before the plugin's sync: {events:?}"
    );
    assert!(
        answer["decision"]["reason"]
            .as_str()
            .unwrap()
            .contains("past the 0.5 s grace period"),
        "{answer}"
    );
    assert_eq!(answer["decision"]["evidence"]["health"], "Degraded");

    // Automated sync is off and the answer says how to turn it on again.
    let automated = &answer["automatedSync"];
    assert_eq!(automated["enabled"], false, "{answer}");
    assert_eq!(
        automated["restore"],
        json!({"tool": "set_automated_sync", "arguments": {"target": "prod", "applicationName": "shop",
               "enabled": true, "prune": true, "selfHeal": true, "allowEmpty": false}})
    );
    let message = automated["message"].as_str().unwrap();
    assert!(
        message.contains("is now OFF") && message.contains("set_automated_sync"),
        "{message}"
    );
    assert!(
        events
            .last()
            .unwrap()
            .starts_with("automated sync stays OFF"),
        "{events:?}"
    );
    let app = env.argocd.application("shop").unwrap();
    assert_eq!(
        app["spec"]["syncPolicy"]["automated"],
        json!({"prune": true, "selfHeal": true, "enabled": false})
    );
    assert_eq!(
        app["spec"]["source"]["kustomize"]["images"],
        json!([IMAGE]),
        "the image change is reverted"
    );
    assert_eq!(answer["change"]["reverted"], true);
    assert_eq!(app["status"]["health"]["status"], "Healthy");
    let progressed = env
        .client
        .wait_for(std::time::Duration::from_secs(5), |r: &Recorded| {
            r.progress.len() >= events.len()
        })
        .await;
    assert!(progressed, "one progress notification per step");
    let sent = lines(&env.api());
    let rollback = sent
        .iter()
        .position(|line| line == "POST /api/v1/applications/shop/rollback")
        .expect("a rollback");
    let turned_off = sent
        .iter()
        .rposition(|line| line.starts_with("PATCH /api/v1/applications/shop"))
        .unwrap();
    assert!(
        sent[..rollback]
            .iter()
            .filter(|line| line.starts_with("PATCH "))
            .count()
            == 2,
        "the image, then automated sync off, before the rollback: {sent:?}"
    );
    assert!(turned_off > rollback, "the revert comes after: {sent:?}");

    // Restored on request, with the call the answer gave.
    let restored = env
        .ok(
            "set_automated_sync",
            automated["restore"]["arguments"].clone(),
        )
        .await;
    assert_eq!(restored["automatedSync"]["enabled"], true);
    assert_eq!(
        env.argocd.application("shop").unwrap()["spec"]["syncPolicy"]["automated"],
        json!({"prune": true, "selfHeal": true, "enabled": true, "allowEmpty": false})
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn a_transient_degraded_within_the_grace_period_ends_healthy() {
    let env = Env::start(shop(), "[config]\ndegraded_grace_seconds = \"10\"").await;
    env.argocd
        .degrade_next_sync_briefly("shop", Cause::CrashLoop, 2);
    let answer = env
        .ok(
            "deploy_and_watch",
            json!({"applicationName": "shop", "revision": "main", "rollbackOnDegraded": true,
                   "pollSeconds": 0.2, "timeoutSeconds": 40}),
        )
        .await;
    assert_eq!(answer["outcome"], "Healthy", "{answer}");
    let events = events(&answer);
    assert!(
        events
            .iter()
            .any(|event| event.ends_with("within the 10 s grace period, watching on")),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|event| event.starts_with("recovered from Degraded after")),
        "{events:?}"
    );
    assert!(
        lines(&env.api())
            .iter()
            .all(|line| !line.contains("rollback") && !line.starts_with("PATCH")),
        "nothing rolled back, automated sync untouched"
    );
    assert_eq!(
        env.argocd.application("shop").unwrap()["spec"]["syncPolicy"]["automated"],
        json!({"prune": true, "selfHeal": true})
    );
    env.argocd.assert_no_violations();
}

/// The talk's headline workflow as an MCP task: deploy a version, watch it degrade past its
/// grace period, roll back, with the call timeout far shorter than the watch. A client with
/// the Tasks extension gets the task at once, sees the steps as its status, and reads the
/// outcome once the watch is over.
#[tokio::test]
async fn deploy_and_watch_runs_as_a_task_past_the_call_timeout() {
    use capstan_tests::client::{Client, ClientOptions, params};
    use rmcp::model::{CallToolResponse, GetTaskParams, TaskPayload};

    let env = Env::start(shop(), "[limits]\ntimeout = \"1s\"").await;
    env.argocd.degrade_next_sync("shop", Cause::ImagePull);
    let options = ClientOptions {
        discover: true,
        tasks: true,
        ..ClientOptions::default()
    };
    let client = Client::connect_with(&env._capstan.url(), &options)
        .await
        .unwrap();
    let peer = client.service().peer().clone();
    let arguments = json!({"applicationName": "shop", "kustomizeImages": ["ghcr.io/example-org/shop:1.3.0"],
                           "rollbackOnDegraded": true, "degradedGraceSeconds": 2, "pollSeconds": 0.2,
                           "timeoutSeconds": 60});
    let id = match peer
        .call_tool_once(params("deploy_and_watch", arguments))
        .await
        .unwrap()
    {
        CallToolResponse::Task(created) => created.task.task_id,
        other => panic!("deploy_and_watch did not answer with a task: {other:?}"),
    };
    let mut statuses = Vec::new();
    let answer = loop {
        let task = peer.get_task(GetTaskParams::new(&id)).await.unwrap();
        if let Some(status) = task.task.task.status_message.clone()
            && statuses.last() != Some(&status)
        {
            statuses.push(status);
        }
        match task.task.payload {
            TaskPayload::Working => {}
            TaskPayload::Completed { result } => break result,
            other => panic!("the deploy task ended {other:?}; statuses {statuses:?}"),
        }
        assert!(statuses.len() < 1000);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let answer = &answer["structuredContent"];
    assert_eq!(answer["outcome"], "RolledBack", "{answer}");
    assert!(
        statuses
            .iter()
            .any(|status| status.contains("grace period, watching on")),
        "the steps were the task's status: {statuses:?}"
    );
    assert_eq!(answer["automatedSync"]["enabled"], false, "{answer}");
}
