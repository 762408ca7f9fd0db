//! Generated applications for scale tests and benchmarks: N distinct, deterministic
//! applications shaped like real ones. Each varies with its index: 8 to 16 managed objects
//! (web-facing services have an Ingress, background ones do not), 2 or 3 replicas, a
//! Kustomize overlay or a Helm chart from Git, ten deployments in its history, the result of
//! its last sync (some failed), notifications annotations, the resources finalizer, managed
//! fields, sync retries, info on some, and a mix of sync and health states.

use super::app::{Application, Cause, IN_CLUSTER};
use super::managed::Resource;

const TEAMS: [&str; 8] = [
    "payments", "checkout", "search", "identity", "catalog", "billing", "platform", "data",
];
const SERVICES: [&str; 6] = ["api", "worker", "web", "gateway", "scheduler", "migrations"];
/// Services that serve traffic from outside the cluster.
const WEB_FACING: [&str; 3] = ["api", "web", "gateway"];
/// Services deployed from a Helm chart in their repository (the others use Kustomize).
const HELM: [&str; 2] = ["gateway", "scheduler"];
const ENVIRONMENTS: [(&str, &str); 3] = [
    ("dev", IN_CLUSTER),
    ("staging", "https://staging-eu-west-1.k8s.example.com"),
    ("prod", "https://prod-eu-west-1.k8s.example.com"),
];
/// Deployments Argo CD keeps in `status.history` by default.
const HISTORY: usize = 10;

/// `count` distinct applications spread over 8 team projects, 6 services and 3 environments
/// (names like `payments-api-prod`, with a numeric suffix once the combinations run out), with a
/// deterministic mix of sync and health states: mostly `Synced`/`Healthy`, some `OutOfSync`
/// (half of those after a failed sync), `Progressing`, `Degraded`, `Missing`, `Suspended` and
/// `Unknown` (a comparison error).
pub fn generate(count: usize) -> Vec<Application> {
    (0..count).map(generated).collect()
}

/// The application number `index`.
pub(crate) fn generated(index: usize) -> Application {
    let team = TEAMS[index % TEAMS.len()];
    let service = SERVICES[(index / TEAMS.len()) % SERVICES.len()];
    let combinations = TEAMS.len() * SERVICES.len();
    let (env, server) = ENVIRONMENTS[(index / combinations) % ENVIRONMENTS.len()];
    let round = index / (combinations * ENVIRONMENTS.len());
    let name = match round {
        0 => format!("{team}-{service}-{env}"),
        round => format!("{team}-{service}-{env}-{round}"),
    };
    let (sync, health, message) = generated_state(index);
    let resources = resources(index, service);
    let app = Application::new(&name)
        .project(team)
        .label("team", team)
        .label("env", env)
        .label("app.kubernetes.io/name", &format!("{team}-{service}"))
        .annotation(
            "notifications.argoproj.io/subscribe.on-sync-failed.slack",
            &format!("{team}-deploys"),
        )
        .annotation(
            "notifications.argoproj.io/subscribe.on-health-degraded.slack",
            &format!("{team}-alerts"),
        )
        .finalizer("resources-finalizer.argocd.argoproj.io")
        .managed_fields()
        .destination(server, &format!("{team}-{env}"))
        .automated(env != "prod")
        .sync_option("PrunePropagationPolicy=foreground")
        .sync_option("PruneLast=true")
        .retry(5)
        .sync(sync)
        .health(health, message)
        .manages(&resources)
        .replicas(2 + (index % 2) as u32)
        .deployments(HISTORY)
        .cause(Cause::ALL[(index / 11) % Cause::ALL.len()]);
    let app = source(app, index, team, service, env);
    let app = extras(app, index, &resources, team, service, env);
    last_sync(app, index, sync, health)
}

/// The Deployment, Service and ConfigMap, then 5 to 13 extras (no Ingress for background
/// services).
fn resources(index: usize, service: &str) -> Vec<Resource> {
    let web_facing = WEB_FACING.contains(&service);
    let extras = Resource::EXTRAS
        .into_iter()
        .filter(|resource| web_facing || *resource != Resource::Ingress)
        .take(5 + index % 9);
    Resource::BASIC.into_iter().chain(extras).collect()
}

/// A Kustomize overlay pinning the image, or a Helm chart with per-environment values.
fn source(app: Application, index: usize, team: &str, service: &str, env: &str) -> Application {
    let repo = format!("https://github.com/example-org/{team}-deploy.git");
    let branch = if env == "prod" { "release" } else { "main" };
    let tag = format!("1.{}.{}", index % 17, index % 5);
    let image = format!("ghcr.io/example-org/{team}-{service}:{tag}");
    let app = app.image(&image);
    if HELM.contains(&service) {
        let replicas = app.replica_count().to_string();
        app.git(&repo, &format!("charts/{service}"), branch)
            .helm_values("values.yaml")
            .helm_values(&format!("values-{env}.yaml"))
            .helm_parameter("image.tag", &tag)
            .helm_parameter("replicaCount", &replicas)
            .helm_parameter("podAnnotations.team", team)
    } else {
        app.git(&repo, &format!("apps/{service}/overlays/{env}"), branch)
            .kustomize_image(&image)
    }
}

/// What some applications add: an external URL for an Ingress, ignored replica differences
/// under an autoscaler, owner info, server-side apply.
fn extras(
    mut app: Application,
    index: usize,
    resources: &[Resource],
    team: &str,
    service: &str,
    env: &str,
) -> Application {
    if resources.contains(&Resource::Ingress) {
        app = app.external_url(&format!("https://{service}.{team}.{env}.example.com"));
    }
    if resources.contains(&Resource::Autoscaler) {
        app = app.ignore_difference("apps", "Deployment", "/spec/replicas");
    }
    if index.is_multiple_of(3) {
        app = app.info("Owner", &format!("team-{team}")).info(
            "Runbook",
            &format!("https://runbooks.example.com/{team}/{service}"),
        );
    }
    if index % 4 == 1 {
        app = app.sync_option("ServerSideApply=true");
    }
    app
}

/// The last sync: succeeded, or (for half the OutOfSync, healthy applications) refused by an
/// admission webhook; `Unknown` applications have a comparison error instead.
fn last_sync(app: Application, index: usize, sync: &str, health: &str) -> Application {
    match (sync, health) {
        ("Unknown", _) => app.last_sync().condition(
            "ComparisonError",
            "Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: \
             code = Unknown desc = authentication required: Repository not found.",
        ),
        ("OutOfSync", "Healthy") if index.is_multiple_of(2) => {
            let reason = format!(
                "admission webhook \"validate.kyverno.svc-fail\" denied the request: resource \
                 Ingress/{}/{} was blocked due to the following policies: require-ingress-tls",
                app.destination_namespace(),
                app.name()
            );
            app.condition("SyncError", &format!("Failed sync attempt: {reason}"))
                .failed_sync(&reason)
        }
        _ => app.last_sync(),
    }
}

fn generated_state(index: usize) -> (&'static str, &'static str, Option<&'static str>) {
    match index {
        i if i % 23 == 22 => ("Unknown", "Unknown", None),
        i if i % 13 == 12 => ("OutOfSync", "Missing", None),
        i if i % 11 == 10 => (
            "Synced",
            "Degraded",
            Some("Deployment has exceeded its progress deadline"),
        ),
        i if i % 17 == 16 => ("Synced", "Suspended", Some("Rollout is paused")),
        i if i % 7 == 6 => ("OutOfSync", "Healthy", None),
        i if i % 5 == 4 => (
            "Synced",
            "Progressing",
            Some("Waiting for rollout to finish"),
        ),
        _ => ("Synced", "Healthy", None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_are_unique_and_states_mixed() {
        let apps: Vec<serde_json::Value> = generate(500).iter().map(Application::to_json).collect();
        let names: std::collections::BTreeSet<&str> = apps
            .iter()
            .map(|app| app["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 500);
        let count = |path: &str, value: &str| {
            apps.iter()
                .filter(|app| app.pointer(path).and_then(|v| v.as_str()) == Some(value))
                .count()
        };
        let degraded = count("/status/health/status", "Degraded");
        let out_of_sync = count("/status/sync/status", "OutOfSync");
        let failed = count("/status/operationState/phase", "Failed");
        assert!(
            degraded > 10 && out_of_sync > 10 && failed > 5,
            "{degraded} degraded, {out_of_sync} out of sync, {failed} failed syncs"
        );
    }

    #[test]
    fn generated_applications_are_as_large_as_real_ones() {
        let apps = generate(54);
        let sizes: Vec<usize> = apps
            .iter()
            .map(|app| app.to_json().to_string().len())
            .collect();
        let managed: Vec<usize> = apps
            .iter()
            .map(|app| {
                app.to_json()["status"]["resources"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .collect();
        assert!(
            sizes.iter().all(|size| (10_000..30_000).contains(size)),
            "{sizes:?}"
        );
        assert_eq!(
            (managed.iter().min(), managed.iter().max()),
            (Some(&8), Some(&16))
        );
    }
}
