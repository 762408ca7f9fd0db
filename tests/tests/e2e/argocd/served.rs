//! The Argo CD plugin's resource template and completions against the fake Argo CD: an
//! application's status read by URI, and application and target names completed from the live
//! instance.

use rmcp::model::{
    ArgumentInfo, CompleteRequestParams, CompletionContext, ReadResourceRequestParams, Reference,
    ResourceContents,
};
use serde_json::Value;

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
