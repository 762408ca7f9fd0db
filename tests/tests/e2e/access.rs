//! Per-caller access end to end: named API keys identify three callers, the policy of
//! `docs/examples/policy.cedar` decides what each sees and may call, a rule asks a person to
//! confirm syncs on prod (as session elicitation and as a 2026-07-28 `input_required` round with
//! a sealed `requestState`), and every call lands in the audit file. Two fake Argo CDs stand for
//! staging and prod; a refused or unconfirmed call must leave prod's journal empty.

use std::path::PathBuf;
use std::time::Duration;

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, ClientOptions, is_error, params, text};
use capstan_tests::fakes;
use capstan_tests::fakes::argocd::ArgoCdServer;
use capstan_tests::paths;
use rmcp::model::{CallToolResponse, InputResponses};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const UPSTREAM_TOKEN: &str = "argocd-token-0123456789";
const DEV_KEY: &str = "capstan_dev_bot_key_0123456789abcdefghijklmnop";
const SRE_KEY: &str = "capstan_sre_bot_key_0123456789abcdefghijklmnop";
const CI_KEY: &str = "capstan_ci_deployer_0123456789abcdefghijklmnop";

struct Fleet {
    staging: ArgoCdServer,
    prod: ArgoCdServer,
    _plugins: PluginDir,
    capstan: Capstan,
    audit: PathBuf,
    dir: tempfile::TempDir,
}

impl Fleet {
    async fn start() -> Self {
        let argocd = || fakes::argocd::start(fakes::demo::argocd().with_token(UPSTREAM_TOKEN));
        let (staging, prod) = (argocd().await.unwrap(), argocd().await.unwrap());
        let plugins = PluginDir::new();
        let target = |name: &str, url: String| {
            format!(
                "[[targets]]\nname = \"{name}\"\nurl = \"{url}\"\nauth = {{ bearer_env = \"ARGOCD_TOKEN\" }}\n"
            )
        };
        plugins.manifest(
            "argocd",
            "argocd",
            &format!(
                "[config]\ndefault_target = \"staging\"\n\n{}\n{}",
                target("staging", staging.base_url()),
                target("prod", prod.base_url())
            ),
        );
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys.toml");
        std::fs::write(&keys, keys_file()).unwrap();
        let audit = dir.path().join("audit.jsonl");
        let policy = dir.path().join("policy.cedar");
        std::fs::copy(
            paths::repo_root().join("docs/examples/policy.cedar"),
            &policy,
        )
        .unwrap();
        let capstan = Capstan::start_with(
            &plugins,
            Options {
                args: [
                    "--api-keys-file",
                    keys.to_str().unwrap(),
                    "--policy",
                    policy.to_str().unwrap(),
                    "--audit-file",
                    audit.to_str().unwrap(),
                ]
                .map(String::from)
                .to_vec(),
                env: vec![("ARGOCD_TOKEN".into(), UPSTREAM_TOKEN.into())],
                ..Default::default()
            },
        );
        Self {
            staging,
            prod,
            _plugins: plugins,
            capstan,
            audit,
            dir,
        }
    }

    async fn client(&self, key: &str, answer: Option<bool>, discover: bool) -> Client {
        let options = ClientOptions {
            discover,
            answer,
            ..ClientOptions::bearer(key)
        };
        Client::connect_with(&self.capstan.url(), &options)
            .await
            .unwrap()
    }

    /// The sync requests `fake` received.
    fn syncs(fake: &ArgoCdServer) -> usize {
        fake.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/sync"))
            .count()
    }

    /// Waits up to ten seconds for `/readyz`'s policy report to satisfy `condition`.
    async fn policy_report_until(&self, condition: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..100 {
            let report = self.capstan.readiness()["policy"].clone();
            if condition(&report) {
                return report;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "the policy report never changed: {}",
            self.capstan.readiness()
        );
    }

    fn audit_records(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

fn keys_file() -> String {
    let entry = |name: &str, key: &str, groups: &str| {
        let digest = hex(&Sha256::digest(key.as_bytes()));
        format!("[[key]]\nname = \"{name}\"\nsha256 = \"{digest}\"\ngroups = [{groups}]\n\n")
    };
    [
        entry("dev-bot", DEV_KEY, "\"developers\""),
        entry("sre-bot", SRE_KEY, "\"sre\""),
        entry("ci-deployer", CI_KEY, ""),
    ]
    .concat()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sync(target: &str) -> Value {
    sync_app("payments-api", target)
}

/// Argo CD refuses a second sync of an application while one runs: each sync names its own.
fn sync_app(application: &str, target: &str) -> Value {
    json!({"applicationName": application, "target": target})
}

async fn tool_names(client: &Client) -> Vec<String> {
    client
        .tools()
        .await
        .unwrap()
        .into_iter()
        .map(|tool| tool.name.to_string())
        .collect()
}

#[tokio::test]
async fn each_caller_sees_and_calls_only_what_the_policy_grants() {
    let fleet = Fleet::start().await;
    let dev = fleet.client(DEV_KEY, None, false).await;
    let names = tool_names(&dev).await;
    assert!(
        names.contains(&"argocd_get_application".into()),
        "{names:?}"
    );
    assert!(
        names.contains(&"argocd_sync_application".into()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"argocd_delete_application".into()),
        "{names:?}"
    );
    let ci = fleet.client(CI_KEY, None, false).await;
    assert_eq!(tool_names(&ci).await, ["argocd_sync_application"]);

    let refused = dev
        .call("argocd_sync_application", sync("prod"))
        .await
        .unwrap();
    assert!(is_error(&refused), "{}", text(&refused));
    let message = text(&refused);
    assert!(
        message.contains("policy refused `argocd_sync_application`") && message.contains("dev-bot"),
        "{message}"
    );
    let deleted = dev
        .call(
            "argocd_delete_application",
            json!({"applicationName": "payments-api"}),
        )
        .await
        .unwrap();
    assert!(is_error(&deleted), "{}", text(&deleted));
    assert_eq!(Fleet::syncs(&fleet.prod), 0);
    assert!(
        fleet.prod.requests().is_empty(),
        "a refused call reached prod"
    );

    let synced = dev
        .call("argocd_sync_application", sync("staging"))
        .await
        .unwrap();
    assert!(!is_error(&synced), "{}", text(&synced));
    assert_eq!(Fleet::syncs(&fleet.staging), 1);
    let by_ci = ci
        .call(
            "argocd_sync_application",
            sync_app("payments-worker", "staging"),
        )
        .await
        .unwrap();
    assert!(!is_error(&by_ci), "{}", text(&by_ci));
    assert_eq!(Fleet::syncs(&fleet.staging), 2);
}

#[tokio::test]
async fn a_call_authorised_for_one_target_cannot_reach_another_through_its_arguments() {
    let fleet = Fleet::start().await;
    let dev = fleet.client(DEV_KEY, None, false).await;
    // No `target`: the policy decides on the default target (staging), so the plugin's
    // argocd-mcp style `argocdBaseUrl` must not carry the call to prod.
    let sneaky = json!({"applicationName": "payments-api", "argocdBaseUrl": fleet.prod.base_url()});
    let result = dev.call("argocd_sync_application", sneaky).await.unwrap();
    assert!(is_error(&result), "{}", text(&result));
    assert!(
        text(&result).contains("authorised for target `staging` only"),
        "{}",
        text(&result)
    );
    assert!(fleet.prod.requests().is_empty(), "the call reached prod");
}

#[tokio::test]
async fn a_sync_on_prod_runs_only_after_a_person_says_yes_in_the_session() {
    let fleet = Fleet::start().await;
    let declining = fleet.client(SRE_KEY, Some(false), false).await;
    let declined = declining
        .call("argocd_sync_application", sync("prod"))
        .await
        .unwrap();
    assert!(is_error(&declined), "{}", text(&declined));
    assert!(
        text(&declined).contains("the person declined"),
        "{}",
        text(&declined)
    );
    assert_eq!(Fleet::syncs(&fleet.prod), 0);

    let unable = fleet.client(SRE_KEY, None, false).await;
    let refused = unable
        .call("argocd_sync_application", sync("prod"))
        .await
        .unwrap();
    assert!(
        is_error(&refused) && text(&refused).contains("needs a person's confirmation"),
        "{}",
        text(&refused)
    );
    assert_eq!(Fleet::syncs(&fleet.prod), 0);

    let approving = fleet.client(SRE_KEY, Some(true), false).await;
    let done = approving
        .call("argocd_sync_application", sync("prod"))
        .await
        .unwrap();
    assert!(!is_error(&done), "{}", text(&done));
    assert_eq!(Fleet::syncs(&fleet.prod), 1);
    let questions = approving.recorded().questions;
    assert_eq!(questions.len(), 1, "{questions:?}");
    assert!(
        questions[0].contains("sre-bot") && questions[0].contains("prod"),
        "{questions:?}"
    );

    let records = fleet.audit_records();
    let outcomes: Vec<(&str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["confirmation"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("declined", "is_error"),
            ("unavailable", "is_error"),
            ("approved", "ok")
        ]
    );
    let last = &records[2];
    assert_eq!(last["principal"]["subject"], "sre-bot");
    assert_eq!(last["principal"]["kind"], "api_key");
    assert_eq!(last["decision"]["rule"], "sre-sync-prod");
    assert_eq!(last["target"], "prod");
    assert_eq!(
        last["egress"]["requests"].as_u64().map(|n| n > 0),
        Some(true)
    );
    let audit_text = std::fs::read_to_string(&fleet.audit).unwrap();
    assert!(!audit_text.contains(SRE_KEY), "the audit file holds a key");
}

#[tokio::test]
async fn on_2026_07_28_an_approval_is_sealed_to_its_call_and_spent_once() {
    let fleet = Fleet::start().await;
    let client = fleet.client(SRE_KEY, Some(true), true).await;
    // rmcp's client answers the input_required round itself and retries.
    let done = client
        .call("argocd_sync_application", sync("prod"))
        .await
        .unwrap();
    assert!(!is_error(&done), "{}", text(&done));
    assert_eq!(Fleet::syncs(&fleet.prod), 1);
    assert_eq!(client.recorded().questions.len(), 1);

    let asked = client
        .service()
        .call_tool_once(params(
            "argocd_sync_application",
            sync_app("payments-worker", "prod"),
        ))
        .await
        .unwrap();
    let CallToolResponse::InputRequired(asked) = asked else {
        panic!("expected input_required, got {asked:?}");
    };
    let state = asked.request_state.clone().expect("a request state");
    let yes: InputResponses = [(
        "confirm".to_owned(),
        json!({"action": "accept", "content": {"confirm": true}}),
    )]
    .into_iter()
    .collect();
    let retry = |arguments: Value, state: String| {
        params("argocd_sync_application", arguments)
            .with_input_responses(yes.clone())
            .with_request_state(state)
    };
    let tampered = format!("{}x", state);
    let other_arguments =
        json!({"applicationName": "payments-worker", "target": "prod", "prune": true});
    for (arguments, state) in [
        (other_arguments, state.clone()),
        (sync_app("payments-worker", "prod"), tampered),
    ] {
        let answer = client
            .service()
            .call_tool_once(retry(arguments, state))
            .await
            .unwrap();
        let CallToolResponse::Complete(result) = answer else {
            panic!("expected a result, got {answer:?}");
        };
        assert!(
            is_error(&result) && text(&result).contains("does not match this call"),
            "{}",
            text(&result)
        );
    }
    assert_eq!(Fleet::syncs(&fleet.prod), 1, "a forged approval ran a sync");
    let approved = client
        .service()
        .call_tool_once(retry(sync_app("payments-worker", "prod"), state.clone()))
        .await
        .unwrap();
    assert!(
        matches!(&approved, CallToolResponse::Complete(r) if !is_error(r)),
        "{approved:?}"
    );
    assert_eq!(Fleet::syncs(&fleet.prod), 2);
    let replayed = client
        .service()
        .call_tool_once(retry(sync_app("payments-worker", "prod"), state))
        .await
        .unwrap();
    assert!(
        matches!(&replayed, CallToolResponse::Complete(r) if is_error(r)),
        "{replayed:?}"
    );
    assert_eq!(
        Fleet::syncs(&fleet.prod),
        2,
        "a replayed approval ran a sync"
    );
}

#[tokio::test]
async fn a_broken_policy_edit_keeps_the_previous_policy_deciding_and_says_why() {
    let fleet = Fleet::start().await;
    let report = fleet.capstan.readiness()["policy"].clone();
    assert_eq!(report["rules"], 6, "{report}");
    assert!(report.get("error").is_none(), "{report}");
    // A session open across the edits: told to list its tools again only when a new policy
    // is in force.
    let dev = fleet.client(DEV_KEY, None, false).await;
    let policy = fleet.dir.path().join("policy.cedar");
    std::fs::write(
        &policy,
        "permit (principal, action, resource) when { resource.nope };\n",
    )
    .unwrap();
    let report = fleet
        .policy_report_until(|r| r.get("error").is_some())
        .await;
    let error = report["error"].as_str().unwrap();
    assert!(
        error.contains("policy.cedar") && error.contains("nope"),
        "{error}"
    );
    assert!(
        fleet
            .capstan
            .metrics()
            .contains("capstan_policy_reloads_total{outcome=\"error\"} 1"),
        "{}",
        fleet.capstan.metrics()
    );
    assert_eq!(
        dev.recorded().tools_changed,
        0,
        "a broken edit announced a change"
    );
    assert!(
        tool_names(&dev)
            .await
            .contains(&"argocd_sync_application".into())
    );
    let refused = dev
        .call("argocd_sync_application", sync("prod"))
        .await
        .unwrap();
    assert!(is_error(&refused), "the previous policy stopped deciding");

    let only_sre = "@id(\"sre-read\")\npermit (principal in Capstan::Group::\"sre\", action in Capstan::Action::\"call\", resource) when { resource.readOnly };\n";
    std::fs::write(&policy, only_sre).unwrap();
    let report = fleet
        .policy_report_until(|r| r.get("error").is_none() && r["rules"] == 1)
        .await;
    assert_eq!(report["rules"], 1, "{report}");
    assert!(
        dev.wait_for(Duration::from_secs(10), |r| r.tools_changed >= 1)
            .await,
        "the session was not told that its tools changed"
    );
    assert!(
        tool_names(&dev).await.is_empty(),
        "developers lost every grant"
    );
    assert!(fleet.prod.requests().is_empty());
}

#[tokio::test]
async fn a_resource_is_read_on_the_target_its_uri_names_only_by_callers_the_policy_lets_read_there()
{
    let fleet = Fleet::start().await;
    let uri = "argocd://prod/applications/payments-api";
    let reads = |fake: &ArgoCdServer| {
        fake.requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.contains("/applications/payments-api"))
            .count()
    };
    // developers may call read-only tools anywhere: the read reaches prod, and only prod.
    let dev = fleet.client(DEV_KEY, None, false).await;
    let read = dev
        .service()
        .read_resource(rmcp::model::ReadResourceRequestParams::new(uri))
        .await
        .unwrap();
    let rmcp::model::ResourceContents::TextResourceContents { text, .. } = &read.contents[0] else {
        panic!("expected text: {read:?}");
    };
    assert!(text.contains("payments-api"), "{text}");
    assert!(reads(&fleet.prod) >= 1);
    assert_eq!(reads(&fleet.staging), 0, "the read left its target");

    // ci-deployer may only sync on staging: it reads nothing, on any target.
    let ci = fleet.client(CI_KEY, None, false).await;
    let before = (reads(&fleet.prod), reads(&fleet.staging));
    for target in ["prod", "staging"] {
        let refused = ci
            .service()
            .read_resource(rmcp::model::ReadResourceRequestParams::new(format!(
                "argocd://{target}/applications/payments-api"
            )))
            .await;
        assert!(refused.is_err(), "ci-deployer read {target}: {refused:?}");
    }
    assert_eq!((reads(&fleet.prod), reads(&fleet.staging)), before);

    // Completions follow the same rule.
    assert!(
        !prod_names(&dev).await.is_empty(),
        "developers complete names on prod"
    );
    assert!(
        prod_names(&ci).await.is_empty(),
        "ci-deployer completes nothing"
    );
}

/// The application names `client` gets completed for `payments-` on prod.
async fn prod_names(client: &Client) -> Vec<String> {
    let mut names = rmcp::model::CompleteRequestParams::new(
        rmcp::model::Reference::for_resource("argocd://{target}/applications/{name}"),
        rmcp::model::ArgumentInfo::new("name", "payments-"),
    );
    let mut context = rmcp::model::CompletionContext::new();
    context.arguments = Some([("target".to_owned(), "prod".to_owned())].into());
    names.context = Some(context);
    client
        .service()
        .complete(names)
        .await
        .unwrap()
        .completion
        .values
}
