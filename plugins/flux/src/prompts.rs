//! Two prompts that walk an agent through debugging a Kustomization or a HelmRelease with this
//! plugin's tools (named without the instance's prefix, which the client shows).

use capstan_sdk::{Content, Map, Prompt, PromptMessage, PromptResult, Value};

pub(crate) fn list() -> Vec<Prompt> {
    vec![
        Prompt::new(
            "debug_kustomization",
            "Find out why a Flux Kustomization is not Ready and what to do about it.",
        )
        .argument("name", "The Kustomization's name.", true)
        .argument("namespace", "Its namespace (default flux-system).", false),
        Prompt::new(
            "debug_helmrelease",
            "Find out why a Flux HelmRelease is not Ready and what to do about it.",
        )
        .argument("name", "The HelmRelease's name.", true)
        .argument("namespace", "Its namespace.", true),
    ]
}

pub(crate) fn render(name: &str, arguments: &Map<String, Value>) -> Result<PromptResult, String> {
    let argument = |key: &str| {
        arguments
            .get(key)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let object = argument("name").ok_or("the prompt needs `name`")?;
    let text = match name {
        "debug_kustomization" => {
            kustomization(object, argument("namespace").unwrap_or("flux-system"))
        }
        "debug_helmrelease" => helm_release(
            object,
            argument("namespace").ok_or("the prompt needs `namespace`")?,
        ),
        other => {
            return Err(format!(
                "no prompt named `{other}`; there are debug_kustomization and debug_helmrelease"
            ));
        }
    };
    Ok(PromptResult {
        description: Some(format!("Debug {object}")),
        messages: vec![PromptMessage::user(Content::Text(text))],
    })
}

fn kustomization(name: &str, namespace: &str) -> String {
    format!(
        "Debug the Flux Kustomization `{name}` in namespace `{namespace}`.\n\
         1. Call get_flux_resource with kind Kustomization, name `{name}`, namespace `{namespace}` \
            and fields [\"spec\", \"status.conditions\", \"status.lastAppliedRevision\", \
            \"status.lastAttemptedRevision\"]. Read its health: Suspended, Stalled, Reconciling, \
            Ready, NotReady or Unknown, with the reason and message.\n\
         2. Read its events and its source's events in the same answer. If the source (a \
            GitRepository, OCIRepository or Bucket) is not Ready, the cause is there: \
            authentication, a missing branch or tag, an unreachable URL.\n\
         3. If it depends on other Kustomizations (spec.dependsOn), check each with \
            list_flux_resources; a dependency that is not Ready blocks this one.\n\
         4. For build or apply errors, call get_flux_logs with kind Kustomization, name `{name}`, \
            namespace `{namespace}` and level error.\n\
         5. Explain the cause in one or two sentences and propose a fix (a change in Git, a \
            secret, a resume). Only after the user agrees, use reconcile (withSource: true, \
            wait: true) or reconcile_dependencies to check the fix. Never suspend or resume \
            without asking."
    )
}

fn helm_release(name: &str, namespace: &str) -> String {
    format!(
        "Debug the Flux HelmRelease `{name}` in namespace `{namespace}`.\n\
         1. Call get_flux_resource with kind HelmRelease, name `{name}`, namespace `{namespace}` \
            and fields [\"spec.chart\", \"spec.chartRef\", \"status.conditions\", \
            \"status.history\", \"status.failures\", \"status.installFailures\", \
            \"status.upgradeFailures\"]. Read its health and the Ready, Released and Remediated \
            conditions.\n\
         2. Read its events and those of its chart source (the generated HelmChart \
            `{namespace}-{name}` or its chartRef). A chart that cannot be fetched shows there.\n\
         3. Call trace_resource on the HelmRelease to see each source's health and revision.\n\
         4. For install, upgrade or test failures call get_flux_logs with kind HelmRelease, name \
            `{name}`, namespace `{namespace}` and level error; a timeout usually means the \
            release's pods never became ready, so check the workload too.\n\
         5. Explain the cause and propose a fix. If it is Stalled after exhausting its retries, \
            a reconcile with reset: true (and force: true for a one-off upgrade) restarts \
            remediation; propose it, and run it only after the user agrees."
    )
}
