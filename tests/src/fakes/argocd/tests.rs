//! The fake Argo CD over real sockets: filters, errors, base path, auth and the journal.

use serde_json::{Value, json};

use super::*;
use crate::fakes::tests::client;

async fn get(server: &FakeServer, path_and_query: &str) -> (u16, Value) {
    let response = client()
        .get(format!("{}{path_and_query}", server.base_url()))
        .header("authorization", "Bearer secret-token")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn names(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|app| app["metadata"]["name"].as_str().unwrap())
        .collect()
}

fn small() -> ArgoCd {
    ArgoCd::new()
        .with_app(Application::new("web").project("shop").label("env", "prod"))
        .with_app(Application::new("api").project("shop").label("env", "dev"))
        .with_app(Application::new("tools").namespace("team-a").git(
            "https://example.com/tools.git",
            "x",
            "HEAD",
        ))
}

#[tokio::test]
async fn lists_sorted_and_filtered_server_side() {
    let server = start(small()).await.unwrap();
    assert_eq!(
        names(&get(&server, "/api/v1/applications").await.1),
        ["api", "tools", "web"]
    );
    assert_eq!(
        names(&get(&server, "/api/v1/applications?projects=shop").await.1),
        ["api", "web"]
    );
    assert_eq!(
        names(
            &get(&server, "/api/v1/applications?selector=env%3Dprod")
                .await
                .1
        ),
        ["web"]
    );
    assert_eq!(
        names(
            &get(&server, "/api/v1/applications?appNamespace=team-a")
                .await
                .1
        ),
        ["tools"]
    );
    let repo = "/api/v1/applications?repo=https%3A%2F%2Fexample.com%2Ftools.git";
    assert_eq!(names(&get(&server, repo).await.1), ["tools"]);
    let (status, body) = get(&server, "/api/v1/applications?name=nope").await;
    assert_eq!((status, body["code"].as_u64()), (404, Some(5)));
    server.assert_no_violations();
}

#[tokio::test]
async fn gets_one_application_or_answers_like_argo_cd() {
    let server = start(small()).await.unwrap();
    let (status, app) = get(&server, "/api/v1/applications/web").await;
    assert_eq!(
        (status, app["spec"]["project"].as_str()),
        (200, Some("shop"))
    );
    let (status, app) = get(&server, "/api/v1/applications/tools?appNamespace=team-a").await;
    assert_eq!(
        (status, app["metadata"]["namespace"].as_str()),
        (200, Some("team-a"))
    );
    let (status, error) = get(&server, "/api/v1/applications/missing").await;
    assert_eq!(status, 404);
    assert_eq!(
        error,
        json!({"error": "applications.argoproj.io \"missing\" not found", "code": 5,
               "message": "applications.argoproj.io \"missing\" not found"})
    );
    server.assert_no_violations();
}

#[tokio::test]
async fn an_undeclared_query_parameter_is_refused_and_recorded() {
    let server = start(small()).await.unwrap();
    let (status, error) = get(&server, "/api/v1/applications?search=web").await;
    assert_eq!((status, error["code"].as_u64()), (400, Some(3)));
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("`search` is not declared")
    );
    let violations = server.violations();
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].request.query.as_deref(), Some("search=web"));
}

#[tokio::test]
async fn unknown_paths_and_path_traversal_are_violations() {
    let server = start(small()).await.unwrap();
    assert_eq!(get(&server, "/api/v1/applicationz").await.0, 400);
    assert_eq!(get(&server, "/api/v1/applications/%2E%2E").await.0, 400);
    assert_eq!(server.violations().len(), 2);
}

#[tokio::test]
async fn operations_not_implemented_answer_501_without_a_violation() {
    let server = start(small()).await.unwrap();
    let (status, error) = get(&server, "/api/v1/applications/web/syncwindows").await;
    assert_eq!((status, error["code"].as_u64()), (501, Some(12)));
    server.assert_no_violations();
}

#[tokio::test]
async fn serves_under_a_base_path_and_records_requests_with_headers() {
    let server = start(small().with_base_path("/argocd/")).await.unwrap();
    assert!(server.base_url().ends_with("/argocd"));
    let (status, version) = get(&server, "/api/version").await;
    assert_eq!((status, version["Version"].as_str()), (200, Some(VERSION)));
    let requests = server.requests();
    assert_eq!(requests[0].path, "/argocd/api/version");
    assert_eq!(requests[0].authorization(), Some("Bearer secret-token"));

    let root = format!("http://{}/api/version", server.addr());
    assert_eq!(client().get(root).send().await.unwrap().status(), 404);
    assert_eq!(
        server.violations().len(),
        1,
        "a request outside the base path is a violation"
    );
}

#[tokio::test]
async fn a_required_token_is_enforced_except_for_the_version() {
    let server = start(small().with_token("secret-token")).await.unwrap();
    assert_eq!(get(&server, "/api/v1/applications").await.0, 200);
    let anonymous = client()
        .get(format!("{}/api/v1/applications", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["code"], 16);
    let version = client()
        .get(format!("{}/api/version", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(version.status(), 200);
}

#[tokio::test]
async fn raw_fixtures_are_checked_against_the_contract() {
    let typo = json!({"metadata": {"name": "x"}, "spec": {"projct": "default"}});
    let error = ArgoCd::new().with_raw_app(typo).unwrap_err().to_string();
    assert!(error.contains("breaks Argo CD's contract"), "{error}");
    assert!(
        ArgoCd::new()
            .with_raw_app(Application::new("ok").to_json())
            .is_ok()
    );
}

#[tokio::test]
async fn many_generated_applications_are_served() {
    let server = start(ArgoCd::new().with_generated_apps(1000))
        .await
        .unwrap();
    let (status, list) = get(
        &server,
        "/api/v1/applications?projects=payments&selector=env%3Dprod",
    )
    .await;
    assert_eq!(status, 200);
    let items = list["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.len() < 1000);
    assert!(items.iter().all(|app| app["spec"]["project"] == "payments"));
    server.shutdown().await;
}
