//! What goes wrong, and what the error says to do: a missing object or CRD, an RBAC denial,
//! a name that would leave its path segment, arguments that do not fit together. The error
//! answers were recorded from the scenario served without the HelmRelease CRD and the
//! GitRepository `fleet`, with `list gitrepositories` and `patch kustomizations` forbidden
//! (`restricted/`).

use capstan_sdk::json;

use super::reads::EVERY_KIND;
use super::{HELM_RELEASES, KUSTOMIZATIONS, SOURCES, cluster, error, fixture, lines, ok};

#[test]
fn a_missing_object_and_a_missing_crd_are_told_apart() {
    let fixture = cluster()
        .on_status_json(
            "GET",
            &format!("{KUSTOMIZATIONS}/nope"),
            404,
            fixture!("restricted/kustomization-nope-404.json"),
        )
        .on_status_json(
            "GET",
            &format!("{HELM_RELEASES}/data/helmreleases/redis"),
            404,
            fixture!("restricted/helmrelease-redis-404.json"),
        );
    let missing = error(
        &fixture,
        "get_flux_resource",
        json!({"kind": "Kustomization", "name": "nope", "namespace": "flux-system"}),
    );
    assert!(
        missing.contains("HTTP 404")
            && missing.contains("Kustomization `flux-system/nope` does not exist"),
        "{missing}"
    );
    let no_crd = error(
        &fixture,
        "get_flux_resource",
        json!({"kind": "HelmRelease", "name": "redis", "namespace": "data"}),
    );
    assert!(
        no_crd.contains("the helmreleases.helm.toolkit.fluxcd.io CRD (version v2) is not installed on target `prod`"),
        "{no_crd}"
    );
}

#[test]
fn a_denied_list_names_the_rbac_rule_to_grant() {
    let fixture = cluster().on_status_json(
        "GET",
        "/apis/source.toolkit.fluxcd.io/v1/gitrepositories",
        403,
        fixture!("restricted/gitrepositories-403.json"),
    );
    let denied = error(
        &fixture,
        "list_flux_resources",
        json!({"kind": "GitRepository"}),
    );
    assert!(
        denied.contains("HTTP 403")
            && denied.contains(
                "RBAC verb `list` on resource `gitrepositories` in API group \
                 `source.toolkit.fluxcd.io` cluster-wide"
            ),
        "{denied}"
    );
    assert_eq!(
        lines(&fixture),
        ["GET /apis/source.toolkit.fluxcd.io/v1/gitrepositories?limit=500"]
    );
}

#[test]
fn a_denied_patch_names_the_rbac_rule_to_grant() {
    let apps = format!("{KUSTOMIZATIONS}/apps");
    let fixture = cluster().on_status_json(
        "PATCH",
        &apps,
        403,
        fixture!("restricted/suspend-kustomization-apps-403.json"),
    );
    let denied = error(
        &fixture,
        "suspend",
        json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system"}),
    );
    assert!(
        denied.contains("HTTP 403")
            && denied.contains(
                "RBAC verb `patch` on resource `kustomizations` in API group \
                 `kustomize.toolkit.fluxcd.io` in namespace `flux-system`"
            ),
        "{denied}"
    );
    assert_eq!(lines(&fixture), [format!("PATCH {apps}")]);
}

#[test]
fn kinds_whose_crd_is_missing_are_listed_and_none_at_all_means_no_flux() {
    let mut fixture = cluster().on_status_json(
        "GET",
        "/apis/helm.toolkit.fluxcd.io/v2/helmreleases",
        404,
        fixture!("restricted/helmreleases-404.json"),
    );
    for (plural, answer) in [
        (
            "kustomize.toolkit.fluxcd.io/v1/kustomizations",
            fixture!("demo/kustomizations.json"),
        ),
        (
            "source.toolkit.fluxcd.io/v1/gitrepositories",
            fixture!("demo/gitrepositories.json"),
        ),
        (
            "source.toolkit.fluxcd.io/v1/ocirepositories",
            fixture!("demo/ocirepositories.json"),
        ),
        (
            "source.toolkit.fluxcd.io/v1/helmrepositories",
            fixture!("demo/helmrepositories.json"),
        ),
        (
            "source.toolkit.fluxcd.io/v1/helmcharts",
            fixture!("demo/helmcharts.json"),
        ),
        (
            "source.toolkit.fluxcd.io/v1/buckets",
            fixture!("demo/buckets.json"),
        ),
    ] {
        fixture = fixture.on_json("GET", &format!("/apis/{plural}"), answer);
    }
    let partial = ok(&fixture, "list_flux_resources", json!({}));
    assert_eq!(lines(&fixture), EVERY_KIND);
    assert_eq!(
        (&partial["count"], &partial["missingKinds"]),
        (&json!(9), &json!(["HelmRelease"]))
    );
    let none = error(
        &fixture,
        "list_flux_resources",
        json!({"kind": "HelmRelease"}),
    );
    assert_eq!(
        none,
        "Flux is not installed on target `prod`: its API has no CRD for HelmRelease. Pick \
         another target, or check that the Flux controllers (v2.x) are installed."
    );
}

#[test]
fn hostile_names_stay_in_their_path_segment() {
    let fixture = cluster()
        .on_status_json(
            "GET",
            &format!("{KUSTOMIZATIONS}/..%2F..%2F..%2Fapi%2Fv1%2Fsecrets"),
            404,
            fixture!("scenario/name-climbing-404.json"),
        )
        .on_status_json(
            "GET",
            &format!("{KUSTOMIZATIONS}/a%2Fb%3Fwatch%3Dtrue"),
            404,
            fixture!("scenario/name-with-query-404.json"),
        );
    for name in ["../../../api/v1/secrets", "..", ".", "a/b?watch=true"] {
        let answer = error(
            &fixture,
            "get_flux_resource",
            json!({"kind": "Kustomization", "name": name, "namespace": "flux-system"}),
        );
        let expected = if name.contains('/') {
            "HTTP 404".to_owned()
        } else {
            format!("`{name}` is not a valid Kustomization name")
        };
        assert!(answer.contains(&expected), "{answer}");
    }
    assert_eq!(
        lines(&fixture),
        [
            format!("GET {KUSTOMIZATIONS}/..%2F..%2F..%2Fapi%2Fv1%2Fsecrets"),
            format!("GET {KUSTOMIZATIONS}/a%2Fb%3Fwatch%3Dtrue"),
        ],
        "`.` and `..` never reach the API"
    );
    let fixture = cluster();
    for tool in ["suspend", "resume", "reconcile"] {
        let answer = error(
            &fixture,
            tool,
            json!({"kind": "HelmRelease", "name": "..", "namespace": "data"}),
        );
        assert!(
            answer.contains("not a valid HelmRelease name"),
            "{tool}: {answer}"
        );
    }
    assert!(fixture.requests().is_empty());
}

#[test]
fn a_missing_source_is_a_step_of_the_trace() {
    let infra = format!("{KUSTOMIZATIONS}/infra");
    let fleet = format!("{SOURCES}/gitrepositories/fleet");
    let fixture = cluster()
        .on_json("GET", &infra, fixture!("scenario/kustomization-infra.json"))
        .on_status_json(
            "GET",
            &fleet,
            404,
            fixture!("restricted/gitrepository-fleet-404.json"),
        );
    let traced = ok(
        &fixture,
        "trace_resource",
        json!({"kind": "Kustomization", "name": "infra", "namespace": "flux-system"}),
    );
    assert_eq!(traced["managed"], false);
    assert_eq!(
        traced["steps"][1],
        json!({"role": "source", "kind": "GitRepository", "name": "fleet", "namespace": "flux-system",
               "health": {"state": "Unknown", "reason": "NotFound", "message": "the source does not exist"}})
    );
    assert_eq!(
        lines(&fixture),
        [format!("GET {infra}"), format!("GET {fleet}")]
    );
}

#[test]
fn arguments_that_do_not_fit_together_are_refused_before_any_request() {
    let fixture = cluster();
    let cases = [
        (
            "get_flux_events",
            json!({"name": "apps"}),
            "`name` needs `kind` and `namespace` too",
        ),
        (
            "reconcile",
            json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system",
                   "wait": true, "timeout": "6m"}),
            "`timeout` \"6m\" is longer than 5m; wait less",
        ),
        (
            "list_flux_resources",
            json!({"target": "staging"}),
            "no target named `staging`; this instance has: prod",
        ),
        (
            "list_flux_resources",
            json!({"kind": "Kustomisation"}),
            "unknown Flux kind `Kustomisation`; use one of Kustomization, HelmRelease",
        ),
        (
            "trace_resource",
            json!({"kind": "Job", "name": "x", "namespace": "y"}),
            "cannot trace kind `Job`; use one of Deployment",
        ),
        (
            "get_flux_logs",
            json!({"since": "10 minutes"}),
            "`10 minutes` is not a duration",
        ),
    ];
    for (tool, arguments, expected) in cases {
        let answer = error(&fixture, tool, arguments);
        assert!(answer.contains(expected), "{tool}: {answer}");
    }
    assert!(fixture.requests().is_empty());
}

#[test]
fn logs_without_controllers_say_where_to_look() {
    let fixture = cluster().on_json(
        "GET",
        "/apis/apps/v1/namespaces/flux-system/deployments",
        fixture!("demo/controllers.json"),
    );
    let answer = error(&fixture, "get_flux_logs", json!({}));
    assert_eq!(
        answer,
        "no Flux controllers (Deployments labelled app.kubernetes.io/part-of=flux) in namespace \
         `flux-system`; pass `fluxNamespace` if Flux runs elsewhere"
    );
}
