//! The Argo CD plugin's resource template and completions against the fake Argo CD: an
//! application's status read by URI, application and target names completed from the live
//! instance, and subscribers of an application's URI (a 2025-11-25 session's
//! `resources/subscribe`, a 2026-07-28 listen stream's `resourceSubscriptions`) told when it
//! changes.

use std::time::Duration;

use capstan_tests::client::Client;
use capstan_tests::fakes::argocd::Cause;
use rmcp::model::{
    ArgumentInfo, CompleteRequestParams, CompletionContext, ReadResourceRequestParams, Reference,
    ResourceContents, ServerNotification, SubscribeRequestParams, SubscriptionFilter,
    UnsubscribeRequestParams,
};
use serde_json::{Value, json};

use super::Env;

const TEMPLATE: &str = "argocd://{target}/applications/{name}";

#[tokio::test]
async fn an_application_is_read_by_uri_and_its_name_completed_from_the_instance() {
    let env = Env::demo().await;
    let service = env.client.service();
    let templates = service.list_all_resource_templates().await.unwrap();
    assert!(
        templates.iter().any(|t| t.uri_template == TEMPLATE),
        "{templates:?}"
    );
    let uri = "argocd://prod/applications/payments-api";
    let read = service
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .unwrap();
    let ResourceContents::TextResourceContents {
        uri: read_uri,
        mime_type,
        text,
        ..
    } = &read.contents[0]
    else {
        panic!("expected text contents: {read:?}");
    };
    assert_eq!(read_uri, uri);
    assert_eq!(mime_type.as_deref(), Some("application/json"));
    let status: Value = serde_json::from_str(text).unwrap();
    assert_eq!(status["summary"]["name"], "payments-api", "{status}");
    let missing = service
        .read_resource(ReadResourceRequestParams::new(
            "argocd://prod/applications/no-such-app",
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(missing.contains("no-such-app"), "{missing}");

    let mut names = CompleteRequestParams::new(
        Reference::for_resource(TEMPLATE),
        ArgumentInfo::new("name", "payments-"),
    );
    let mut context = CompletionContext::new();
    context.arguments = Some([("target".to_owned(), "prod".to_owned())].into());
    names.context = Some(context);
    let completed = service.complete(names).await.unwrap();
    assert_eq!(
        completed.completion.values,
        ["payments-api", "payments-worker"]
    );
    let targets = service
        .complete(CompleteRequestParams::new(
            Reference::for_resource(TEMPLATE),
            ArgumentInfo::new("target", "p"),
        ))
        .await
        .unwrap();
    assert_eq!(targets.completion.values, ["prod"]);
}

#[tokio::test]
#[allow(deprecated)] // resources/subscribe is how 2025-11-25 sessions subscribe
async fn subscribers_of_an_application_are_told_when_it_changes_and_only_then() {
    let data = capstan_tests::fakes::demo::argocd();
    let env = Env::start_with_args(data, &["--resource-poll-interval", "200ms"]).await;
    let uri = "argocd://prod/applications/payments-api";
    let session = env.client.service();
    let unknown = "argocd://prod/nothing/here";
    let refused = session
        .subscribe(SubscribeRequestParams::new(unknown))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains(unknown), "{refused}");
    session
        .subscribe(SubscribeRequestParams::new(uri))
        .await
        .unwrap();
    let modern = Client::connect_discover(&env._capstan.url()).await.unwrap();
    let filter = SubscriptionFilter::builder()
        .resource_subscriptions([uri, unknown])
        .build();
    let mut stream = modern.service().peer().listen(filter).await.unwrap();
    assert_eq!(
        stream.acknowledged().resource_subscriptions,
        Some(vec![uri.to_owned()]),
        "only served URIs are accepted"
    );

    // Read again and again, an unchanged application tells nobody.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(env.client.recorded().resources_updated.is_empty());

    env.argocd
        .degrade_next_sync("payments-api", Cause::CrashLoop);
    env.ok(
        "sync_application",
        json!({"applicationName": "payments-api"}),
    )
    .await;
    let told = env.client.wait_for(Duration::from_secs(10), |r| {
        r.resources_updated.iter().any(|updated| updated == uri)
    });
    assert!(told.await, "the session was not told");
    let heard = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the stream was not told")
        .unwrap()
        .expect("the stream ended");
    let ServerNotification::ResourceUpdatedNotification(updated) = heard else {
        panic!("expected resources/updated, got {heard:?}");
    };
    assert_eq!(updated.params.uri, uri);

    // Unsubscribed, the session hears of no further change.
    session
        .unsubscribe(UnsubscribeRequestParams::new(uri))
        .await
        .unwrap();
    let before = env.client.recorded().resources_updated.len();
    env.argocd.fail_next_sync("payments-api", "a hook failed");
    env.ok(
        "sync_application",
        json!({"applicationName": "payments-api"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(env.client.recorded().resources_updated.len(), before);
}
