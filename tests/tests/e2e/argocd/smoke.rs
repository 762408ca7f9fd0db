//! Every tool once through the whole stack: a real capstan serving the real component against
//! the fake Argo CD, over MCP. The fake holds every request to Argo CD's API contract (paths,
//! query parameters, bodies), so this is where request validity is covered; what each tool
//! sends and answers in detail is tested natively in the plugin (`plugins/argocd/src/tests/`).

use std::collections::BTreeSet;

use capstan_tests::client::Recorded;
use capstan_tests::fakes::demo::PLATFORM_REPO;
use serde_json::{Value, json};

use super::{Env, lines};

fn multi_source(name: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "labels": {"team": "web"}},
        "spec": {
            "project": "default",
            "sources": [
                {"repoURL": "https://charts.example.com", "chart": "web", "targetRevision": "1.2.0",
                 "helm": {"valueFiles": ["$values/web/values-prod.yaml"], "valuesObject": {"replicas": 3}}},
                {"repoURL": "https://github.com/example-org/values.git", "targetRevision": "main", "ref": "values"},
            ],
            "destination": {"server": capstan_tests::fakes::argocd::IN_CLUSTER, "namespace": "web"},
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
        },
    })
}

fn platform_set() -> Value {
    json!({
        "metadata": {"name": "platform-addons"},
        "spec": {
            "generators": [{"git": {"repoURL": PLATFORM_REPO, "revision": "HEAD",
                                    "directories": [{"path": "apps/*"}]}}],
            "template": {
                "metadata": {"name": "addon-{{path.basename}}"},
                "spec": {"project": "platform",
                         "source": {"repoURL": PLATFORM_REPO, "path": "{{path}}", "targetRevision": "HEAD"},
                         "destination": {"server": "https://kubernetes.default.svc", "namespace": "{{path.basename}}"}},
            },
        },
    })
}

/// Calls `tool` and notes that it was driven.
async fn drive(env: &Env, driven: &mut BTreeSet<String>, tool: &str, arguments: Value) -> Value {
    driven.insert(tool.to_owned());
    env.ok(tool, arguments).await
}

#[tokio::test]
async fn every_tool_drives_argo_cd_within_its_api_contract() {
    let env = Env::demo().await;

    // The tools as the host lists them: annotated, targetable, with output schemas.
    let tools = env.client.tools().await.unwrap();
    assert_eq!(tools.len(), 37);
    let destructive = [
        "create_application",
        "update_application",
        "delete_application",
        "sync_application",
        "rollback_application",
        "set_automated_sync",
        "run_resource_action",
        "create_applicationset",
        "delete_applicationset",
        "deploy_and_watch",
    ];
    let other_writes = [
        "refresh_application",
        "terminate_operation",
        "create_applications_from_directories",
    ];
    for tool in &tools {
        let name = tool.name.as_ref();
        let annotations = tool.annotations.as_ref().expect("annotations");
        let writes = destructive.contains(&name) || other_writes.contains(&name);
        assert_eq!(annotations.read_only_hint, Some(!writes), "{name}");
        assert_eq!(
            annotations.destructive_hint,
            Some(destructive.contains(&name)),
            "{name}"
        );
        assert_eq!(annotations.open_world_hint, Some(true), "{name}");
        assert!(tool.output_schema.is_some(), "{name} has an output schema");
        let properties = tool.input_schema.get("properties");
        let target = if name == "fleet_applications" {
            "targets"
        } else {
            "target"
        };
        assert!(
            properties.and_then(|p| p.get(target)).is_some(),
            "{name} takes a {target}"
        );
        assert!(
            tool.description.as_deref().unwrap_or_default().len() > 80,
            "{name} says when to use it"
        );
    }
    let prompts = env.client.service().list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["safe_deploy", "troubleshoot_application"]);

    let mut driven = BTreeSet::new();
    let d = &mut driven;

    // Reads.
    let version = drive(&env, d, "get_version", json!({"target": "prod"})).await;
    assert_eq!(version["version"], capstan_tests::fakes::argocd::VERSION);
    let user = drive(&env, d, "get_user_info", json!({})).await;
    assert_eq!(user["username"], capstan_tests::fakes::argocd::USERNAME);
    env.argocd.deny("applications/sync/payments/*");
    let can = drive(
        &env,
        d,
        "can_i",
        json!({"resource": "applications", "action": "sync", "object": "payments/payments-api"}),
    )
    .await;
    assert_eq!(can["allowed"], false);
    let listed = drive(
        &env,
        d,
        "list_applications",
        json!({"projects": ["payments", "data"], "selector": "env=prod", "healthStatus": "Degraded"}),
    )
    .await;
    assert_eq!(listed["applications"][0]["name"], "recommendations");
    let fleet = drive(
        &env,
        d,
        "fleet_applications",
        json!({"projects": ["payments", "data"], "selector": "env=prod", "health": ["Degraded"],
               "name": "recommend", "limit": 5}),
    )
    .await;
    assert_eq!(fleet["applications"][0]["name"], "recommendations");
    assert_eq!(fleet["applications"][0]["target"], "prod");
    drive(
        &env,
        d,
        "fleet_applications",
        json!({"targets": ["prod"], "applicationName": "guestbook"}),
    )
    .await;
    let app = drive(&env, d, "get_application", json!({"applicationName": "guestbook", "applicationNamespace": "argocd", "refresh": "hard", "detail": true})).await;
    assert_eq!(app["spec"]["project"], "default");
    let tree = drive(
        &env,
        d,
        "get_application_resource_tree",
        json!({"applicationName": "recommendations", "kind": "Pod"}),
    )
    .await;
    let pod = tree["nodes"][0].clone();
    let managed = drive(
        &env,
        d,
        "get_application_managed_resources",
        json!({"applicationName": "helm-guestbook", "kind": "Deployment"}),
    )
    .await;
    assert_eq!(managed["modified"], 1);
    let resources = drive(&env, d, "get_resources", json!({"applicationName": "guestbook", "limit": 5,
        "resourceRefs": [{"kind": "Deployment", "name": "guestbook", "namespace": "guestbook", "group": "apps"},
                         {"kind": "Secret", "name": "a/b?c=d&kind=Pod", "namespace": "guestbook"}]})).await;
    assert_eq!(resources["resources"][0]["manifest"]["kind"], "Deployment");
    let deployment = json!({"kind": "Deployment", "name": "guestbook", "namespace": "guestbook", "group": "apps", "version": "v1"});
    let actions = drive(
        &env,
        d,
        "get_resource_actions",
        json!({"applicationName": "guestbook", "resourceRef": deployment}),
    )
    .await;
    assert!(
        actions["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "scale")
    );
    drive(
        &env,
        d,
        "get_application_events",
        json!({"applicationName": "recommendations"}),
    )
    .await;
    let events = drive(
        &env,
        d,
        "get_resource_events",
        json!({"applicationName": "recommendations", "resourceName": pod["name"],
        "resourceNamespace": pod["namespace"], "resourceUID": pod["uid"]}),
    )
    .await;
    assert!(events["warnings"].as_u64().unwrap() >= 1, "{events}");
    let logs = drive(&env, d, "get_application_workload_logs", json!({"applicationName": "recommendations", "applicationNamespace": "argocd",
        "resourceRef": {"kind": "Deployment", "name": "recommendations", "namespace": "data", "group": "apps"},
        "container": "app", "tailLines": 3, "sinceSeconds": 3600, "filter": "staging"})).await;
    assert_eq!(logs["complete"], true);
    let previous = env
        .ok(
            "get_application_workload_logs",
            json!({"applicationName": "recommendations", "podName": pod["name"], "previous": true}),
        )
        .await;
    assert!(!previous["lines"].as_array().unwrap().is_empty());
    let manifests = drive(
        &env,
        d,
        "get_application_manifests",
        json!({"applicationName": "helm-guestbook", "revision": "v2"}),
    )
    .await;
    assert_eq!(manifests["revision"], "v2");
    let diff = drive(
        &env,
        d,
        "diff_application",
        json!({"applicationName": "helm-guestbook", "project": "default"}),
    )
    .await;
    assert_eq!(diff["changed"], 1);
    let history = drive(
        &env,
        d,
        "get_application_history",
        json!({"applicationName": "search-api"}),
    )
    .await;
    assert!(
        history["history"][0]["commit"]["author"].is_string(),
        "{history}"
    );
    drive(&env, d, "list_projects", json!({})).await;
    drive(
        &env,
        d,
        "get_appproject",
        json!({"projectName": "payments", "detail": true}),
    )
    .await;
    drive(
        &env,
        d,
        "list_clusters",
        json!({"server": "https://prod-eu-west-1.k8s.example.com"}),
    )
    .await;
    let repo = drive(
        &env,
        d,
        "list_repository_apps",
        json!({"repo": PLATFORM_REPO, "revision": "main", "path": "apps"}),
    )
    .await;
    assert_eq!(repo["apps"].as_array().unwrap().len(), 4);
    drive(
        &env,
        d,
        "list_applicationsets",
        json!({"selector": "team=web", "projects": ["default"]}),
    )
    .await;
    drive(
        &env,
        d,
        "get_applicationset",
        json!({"name": "guestbook-envs", "detail": true}),
    )
    .await;
    let generated = drive(
        &env,
        d,
        "generate_applicationset",
        json!({"name": "guestbook-envs"}),
    )
    .await;
    assert_eq!(generated["count"], 2);
    env.ok(
        "generate_applicationset",
        json!({"applicationSet": platform_set()}),
    )
    .await;
    let diagnosis = drive(
        &env,
        d,
        "diagnose_application",
        json!({"applicationName": "recommendations"}),
    )
    .await;
    assert_eq!(diagnosis["causes"][0]["cause"], "CrashLoop");
    let plan = drive(&env, d, "create_applications_from_directories", json!({"repo": PLATFORM_REPO, "path": "apps",
        "project": "platform", "namePrefix": "platform-", "appOfApps": "platform-root", "appOfAppsPath": "bootstrap"})).await;
    assert_eq!(plan["dryRun"], true);

    // Writes.
    drive(
        &env,
        d,
        "create_application",
        json!({"application": multi_source("web"), "validate": true}),
    )
    .await;
    let changes = json!({"metadata": {"labels": {"tier": "frontend"}}, "spec": {"syncPolicy": {"automated": {"prune": true}}}});
    drive(
        &env,
        d,
        "update_application",
        json!({"applicationName": "web", "application": changes}),
    )
    .await;
    assert_eq!(
        env.argocd.application("web").unwrap()["metadata"]["labels"]["tier"],
        "frontend"
    );
    drive(
        &env,
        d,
        "refresh_application",
        json!({"applicationName": "web", "kind": "hard"}),
    )
    .await;
    let rolled = drive(
        &env,
        d,
        "rollback_application",
        json!({"applicationName": "helm-guestbook", "id": 1, "prune": true}),
    )
    .await;
    assert_eq!(rolled["operation"]["phase"], "Requested");
    let automated = drive(
        &env,
        d,
        "set_automated_sync",
        json!({"applicationName": "guestbook", "enabled": false}),
    )
    .await;
    assert_eq!(automated["automatedSync"]["enabled"], false);
    drive(
        &env,
        d,
        "terminate_operation",
        json!({"applicationName": "helm-guestbook", "appNamespace": "argocd"}),
    )
    .await;
    let synced = drive(&env, d, "sync_application", json!({"applicationName": "guestbook", "revision": "HEAD", "prune": true,
        "syncOptions": ["ServerSideApply=true"], "strategy": "apply",
        "resources": [{"group": "apps", "kind": "Deployment", "name": "guestbook", "namespace": "guestbook"}]})).await;
    assert_eq!(synced["operation"]["phase"], "Requested");
    drive(
        &env,
        d,
        "run_resource_action",
        json!({"applicationName": "guestbook", "resourceRef": deployment,
        "action": "scale", "parameters": {"replicas": 4}}),
    )
    .await;
    assert_eq!(env.argocd.actions_run()[0]["endpoint"], "v2");
    drive(
        &env,
        d,
        "create_applicationset",
        json!({"applicationSet": platform_set(), "dryRun": true}),
    )
    .await;
    assert!(env.argocd.appset("platform-addons").is_none());
    drive(
        &env,
        d,
        "delete_applicationset",
        json!({"name": "guestbook-envs"}),
    )
    .await;
    assert!(env.argocd.appset("guestbook-envs").is_none());
    drive(
        &env,
        d,
        "delete_application",
        json!({"applicationName": "web", "cascade": true, "propagationPolicy": "background"}),
    )
    .await;
    assert!(env.argocd.application("web").is_none());

    // A deployment watched to the end, with progress notifications through the host.
    driven.insert("deploy_and_watch".to_owned());
    let watched = env
        .client
        .call_with_progress(
            "deploy_and_watch",
            json!({"applicationName": "search-api", "revision": "v3.9.0", "pollSeconds": 0.1, "timeoutSeconds": 20}),
            "deploy-1",
        )
        .await
        .unwrap();
    let watched = watched.structured_content.clone().unwrap();
    assert_eq!(watched["outcome"], "Healthy", "{watched}");
    let steps = watched["steps"].as_array().unwrap().len();
    let progressed = env
        .client
        .wait_for(std::time::Duration::from_secs(5), |r: &Recorded| {
            r.progress.len() >= steps
        })
        .await;
    assert!(progressed, "one progress notification per step");

    // An Argo CD refusal reaches the agent as an error result.
    let missing = env
        .fails("get_application", json!({"applicationName": "nope"}))
        .await;
    assert!(
        missing.contains("HTTP 404 (gRPC code 5 NotFound)"),
        "{missing}"
    );

    let listed: BTreeSet<String> = tools.iter().map(|tool| tool.name.to_string()).collect();
    assert_eq!(driven, listed, "every tool was driven");
    let sent = env.api();
    assert!(
        sent.len() >= driven.len(),
        "every tool sent at least one request: {}",
        sent.len()
    );
    let unauthorized: Vec<String> = sent
        .iter()
        .filter(|sent| !sent.authorized)
        .map(|sent| sent.line())
        .collect();
    assert!(
        unauthorized.is_empty(),
        "the host adds the target's token to every request: {unauthorized:?}"
    );
    assert!(
        lines(&sent).contains(
            &"GET /api/v1/applications?projects=payments&projects=data&selector=env=prod"
                .to_owned()
        ),
        "{:?}",
        lines(&sent)
    );
    env.argocd.assert_no_violations();
}
