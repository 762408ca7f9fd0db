//! create_application, update_application and delete_application: full specs sent as given,
//! merge patches of only what changes, cascade and propagation on delete, Argo CD's refusals.

use capstan_sdk::{Value, json};

use super::{APPS, argocd, fails, ok, parse, recorded};

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
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
            "ignoreDifferences": [{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}],
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
        },
    })
}

/// `application` without what the plugin strips before sending it.
fn sent_form(mut application: Value) -> Value {
    application
        .as_object_mut()
        .unwrap()
        .retain(|key, _| key == "metadata" || key == "spec");
    application
}

#[test]
fn create_sends_the_full_spec_and_honours_upsert_and_validate() {
    let fixture = argocd()
        .on_json("POST", APPS, recorded!("lifecycle/created-web.json"))
        .on_status_json(
            "POST",
            APPS,
            400,
            recorded!("lifecycle/create-different-400.json"),
        )
        .on_status_json(
            "POST",
            APPS,
            400,
            recorded!("lifecycle/create-missing-project-400.json"),
        )
        .on_json(
            "POST",
            "/api/v1/applications?upsert=true",
            recorded!("lifecycle/upserted-web.json"),
        )
        .on_json(
            "POST",
            "/api/v1/applications?validate=false",
            recorded!("lifecycle/created-other.json"),
        );
    let created = ok(
        &fixture,
        "create_application",
        json!({"application": multi_source("web")}),
    );
    assert_eq!(
        created["summary"],
        json!({"name": "web", "project": "default", "sync": "OutOfSync", "health": "Missing",
               "destination": "web@in-cluster", "repo": "https://charts.example.com", "chart": "web",
               "targetRevision": "1.2.0"})
    );
    assert_eq!(
        created["spec"],
        parse(recorded!("lifecycle/created-web.json"))["spec"]
    );
    let mut changed = multi_source("web");
    changed["spec"]["sources"][0]["targetRevision"] = json!("1.3.0");
    changed["status"] = json!({"health": {"status": "Healthy"}});
    changed["operation"] = json!({"sync": {}});
    let refused = fails(
        &fixture,
        "create_application",
        json!({"application": changed.clone()}),
    );
    assert!(
        refused.contains("HTTP 400 (gRPC code 3 InvalidArgument)")
            && refused.contains("existing application spec is different"),
        "{refused}"
    );
    let upserted = ok(
        &fixture,
        "create_application",
        json!({"application": changed.clone(), "upsert": true}),
    );
    assert_eq!(upserted["summary"]["targetRevision"], "1.3.0");
    let mut elsewhere = multi_source("other");
    elsewhere["spec"]["project"] = json!("missing-project");
    let invalid = fails(
        &fixture,
        "create_application",
        json!({"application": elsewhere.clone()}),
    );
    assert!(invalid.contains("does not exist"), "{invalid}");
    ok(
        &fixture,
        "create_application",
        json!({"application": elsewhere.clone(), "validate": false}),
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "POST /api/v1/applications",
            "POST /api/v1/applications",
            "POST /api/v1/applications?upsert=true",
            "POST /api/v1/applications",
            "POST /api/v1/applications?validate=false",
        ]
    );
    let bodies: Vec<Value> = fixture.requests().iter().map(|sent| sent.json()).collect();
    assert_eq!(
        bodies[0],
        sent_form(multi_source("web")),
        "nothing stripped but apiVersion and kind"
    );
    assert_eq!(
        bodies[1],
        sent_form(changed),
        "status and operation are not sent"
    );
    assert_eq!(bodies[1], bodies[2]);
    assert_eq!(bodies[4], sent_form(elsewhere));
    let sent = &fixture.requests()[0];
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("accept"), Some("application/json"));
}

#[test]
fn create_needs_a_name_and_sends_nothing_without_one() {
    let fixture = argocd();
    let mut nameless = multi_source("");
    assert_eq!(
        fails(
            &fixture,
            "create_application",
            json!({"application": nameless.clone()})
        ),
        "application.metadata.name is required"
    );
    nameless["metadata"].as_object_mut().unwrap().remove("name");
    fails(
        &fixture,
        "create_application",
        json!({"application": nameless}),
    );
    assert!(fixture.requests().is_empty());
}

#[test]
fn update_is_a_merge_patch_of_only_what_changes() {
    let fixture = argocd().on_json(
        "PATCH",
        "/api/v1/applications/web",
        recorded!("lifecycle/patched-web.json"),
    );
    let changes = json!({"metadata": {"labels": {"tier": "frontend"}},
                         "spec": {"syncPolicy": {"automated": {"prune": true, "selfHeal": true}}}});
    let updated = ok(
        &fixture,
        "update_application",
        json!({"applicationName": "web", "application": changes.clone()}),
    );
    assert_eq!(updated["summary"]["autoSync"], true);
    assert_eq!(
        updated["spec"]["sources"][0]["helm"]["valuesObject"]["replicas"], 3,
        "helm values survive"
    );
    let sent = &fixture.requests()[0];
    assert_eq!(sent.line(), "PATCH /api/v1/applications/web");
    let body = sent.json();
    assert_eq!(
        (
            body["name"].as_str(),
            body["patchType"].as_str(),
            body.get("appNamespace")
        ),
        (Some("web"), Some("merge"), None)
    );
    let patch: Value = serde_json::from_str(body["patch"].as_str().unwrap()).unwrap();
    assert_eq!(patch, changes);

    let whole = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                       "metadata": {"name": "web", "namespace": "team-a"},
                       "spec": {"source": {"targetRevision": "v1.4.0"}}});
    ok(
        &fixture,
        "update_application",
        json!({"applicationName": "web", "appNamespace": "team-a", "application": whole}),
    );
    let body = fixture.requests()[1].json();
    assert_eq!(body["appNamespace"], "team-a");
    assert_eq!(
        serde_json::from_str::<Value>(body["patch"].as_str().unwrap()).unwrap(),
        json!({"spec": {"source": {"targetRevision": "v1.4.0"}}}),
        "the identity fields a patch cannot change are left out"
    );
    for empty in [
        json!({}),
        json!({"metadata": {"name": "web"}, "kind": "Application"}),
    ] {
        let message = fails(
            &fixture,
            "update_application",
            json!({"applicationName": "web", "application": empty}),
        );
        assert_eq!(
            message,
            "`application` holds no changes; send the metadata or spec fields to change"
        );
    }
    assert_eq!(fixture.requests().len(), 2, "an empty patch sends nothing");
}

#[test]
fn delete_passes_cascade_and_policy_and_reports_argo_cds_refusals() {
    let fixture = argocd()
        .on_json(
            "DELETE",
            "/api/v1/applications/guestbook?cascade=true&propagationPolicy=background",
            recorded!("lifecycle/deleted.json"),
        )
        .on_status_json(
            "DELETE",
            "/api/v1/applications/guestbook",
            404,
            recorded!("lifecycle/delete-missing-404.json"),
        )
        .on_status_json(
            "DELETE",
            "/api/v1/applications/search-api",
            400,
            recorded!("lifecycle/delete-no-cascade-400.json"),
        )
        .on_json(
            "DELETE",
            "/api/v1/applications/payments-api?cascade=false",
            recorded!("lifecycle/deleted.json"),
        );
    let deleted = ok(
        &fixture,
        "delete_application",
        json!({"applicationName": "guestbook", "cascade": true, "propagationPolicy": "background"}),
    );
    assert_eq!(
        deleted,
        json!({"target": "prod", "application": "guestbook", "deleted": true, "cascade": true})
    );
    let again = fails(
        &fixture,
        "delete_application",
        json!({"applicationName": "guestbook"}),
    );
    assert!(again.contains("HTTP 404 (gRPC code 5 NotFound)"), "{again}");
    let refused = fails(
        &fixture,
        "delete_application",
        json!({"applicationName": "search-api", "cascade": false, "propagationPolicy": "foreground"}),
    );
    assert!(refused.contains("cascading is disabled"), "{refused}");
    let kept = ok(
        &fixture,
        "delete_application",
        json!({"applicationName": "payments-api", "cascade": false}),
    );
    assert_eq!(kept["cascade"], false);
    assert_eq!(
        fixture.request_lines(),
        [
            "DELETE /api/v1/applications/guestbook?cascade=true&propagationPolicy=background",
            "DELETE /api/v1/applications/guestbook",
            "DELETE /api/v1/applications/search-api?cascade=false&propagationPolicy=foreground",
            "DELETE /api/v1/applications/payments-api?cascade=false",
        ]
    );
    assert!(fixture.requests().iter().all(|sent| sent.body.is_empty()));
}
