//! The plugin's prompts: a troubleshooting recipe for a degraded application and a safe-deploy
//! recipe, both written for the tools this plugin offers.

use capstan_sdk::{Content, Map, Prompt, PromptMessage, PromptResult, Value};

pub(crate) fn prompts() -> Vec<Prompt> {
    vec![
        Prompt::new("troubleshoot_application", "Find out why an Argo CD application is Degraded or stuck, and what to do about it.")
            .argument("applicationName", "The application to troubleshoot.", true)
            .argument("target", "The Argo CD target, if not the default.", false),
        Prompt::new("safe_deploy", "Deploy a revision of an Argo CD application safely: check, preview, deploy, watch, roll back if needed.")
            .argument("applicationName", "The application to deploy.", true)
            .argument("revision", "The revision (branch, tag, commit or chart version) to deploy.", true)
            .argument("target", "The Argo CD target, if not the default.", false),
    ]
}

pub(crate) fn get(name: &str, arguments: &Map<String, Value>) -> Result<PromptResult, String> {
    let arg = |key: &str| {
        arguments
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let app = arg("applicationName");
    if app.is_empty() {
        return Err("the prompt needs `applicationName`".into());
    }
    let target = match arg("target") {
        t if t.is_empty() => String::new(),
        t => format!(" Pass `target: \"{t}\"` to every tool."),
    };
    let text = match name {
        "troubleshoot_application" => format!(
            "Troubleshoot the Argo CD application `{app}`.{target}\n\
             1. Call diagnose_application for `{app}`. Read `causes` first: each names a recognised cause, its evidence and advice.\n\
             2. If no cause is recognised, look at `unhealthy`, `events` and `logs`; then get_application_resource_tree with \
             health `Degraded`, get_resource_events on the failing objects and get_application_workload_logs \
             (previous: true for restarting pods).\n\
             3. If the app is OutOfSync, get_application_managed_resources and diff_application show what differs from Git.\n\
             4. Check get_application_history: did the trouble start with the latest deployment?\n\
             5. Report the cause with its evidence and propose a fix (a change in Git, or rollback_application to the last good \
             deployment; with automated sync on, the rollback turns it off and leaves it off, and its answer's \
             automatedSync.restore is the set_automated_sync call that turns it on again once Git is fixed). Do not change \
             anything without the user's approval."
        ),
        "safe_deploy" => {
            let revision = arg("revision");
            format!(
                "Deploy revision `{revision}` of the Argo CD application `{app}` safely.{target}\n\
                 1. get_application `{app}`: note its health, sync status and current revision. Stop and report if it is already \
                 Degraded or an operation is Running.\n\
                 2. can_i with resource `applications`, action `sync` and object `<project>/{app}`; stop if not allowed.\n\
                 3. get_application_manifests with revision `{revision}` and diff_application with revision `{revision}`: \
                 summarise what will change and ask the user to confirm.\n\
                 4. deploy_and_watch with revision `{revision}` and rollbackOnDegraded true (to deploy a Helm parameter \
                 or a Kustomize image rather than a revision, pass helmParameters or kustomizeImages). A Degraded that \
                 recovers within degradedGraceSeconds does not count. If automated sync is on, say before deploying that a \
                 rollback turns it off and leaves it off.\n\
                 5. Report the outcome, the decision with its evidence and the steps; if it degraded, run diagnose_application \
                 and include its causes. If the answer has automatedSync, say plainly that automated sync is now OFF and \
                 that automatedSync.restore (set_automated_sync) turns it on again once the fix is in Git; the rollback \
                 is done, not stuck."
            )
        }
        other => return Err(format!("this plugin has no prompt named `{other}`")),
    };
    Ok(PromptResult {
        description: None,
        messages: vec![PromptMessage::user(Content::Text(text))],
    })
}
