#!/usr/bin/env python3
"""Records the answers the native tests replay (`src/tests/`) from the fake Kubernetes API of
`capstan-fakes`, which serves the demo data set and validates every request against the real
API contracts (the Argo Rollouts CRDs).

    cargo build --release -p capstan-tests --bins     # from the repository root
    plugins/rollouts/tests/record-fixtures.py [path/to/capstan-fakes]

Each scenario starts a fresh fake, sends the requests the plugin sends (plus, where a test needs
a controller's reaction, the status change a Rollouts controller would make) and writes every
answer, pretty-printed, to `tests/fixtures/`. A scenario fails when an answer's status is not
the one expected, or when the fake saw a request the real API would refuse.

One answer is not recorded here: `abort-payments-api.403.json` needs RBAC denials, which
`capstan-fakes` does not serve. It is the answer of the same fake built with
`demo::cluster().forbidding("patch", "rollouts/status")` (`capstan_tests::fakes::kube`) to
`PATCH .../namespaces/payments/rollouts/payments-api/status`.
"""

import copy
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
FAKES = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/capstan-fakes")
ARGOCD, KUBE = ("127.0.0.1", 18280), ("127.0.0.1", 18281)
BASE = f"http://{KUBE[0]}:{KUBE[1]}"
ROLLOUTS = "/apis/argoproj.io/v1alpha1"
MERGE, JSON_PATCH = "application/merge-patch+json", "application/json-patch+json"
HASH_LABEL = "rollouts-pod-template-hash"


class Fake:
    """A fresh `capstan-fakes` for one scenario; `violations` it must have seen at the end (a
    request the real API server would refuse too)."""

    def __init__(self, violations=0):
        self.violations = violations

    def __enter__(self):
        self.process = subprocess.Popen(
            [FAKES, "--argocd", "%s:%d" % ARGOCD, "--kube", "%s:%d" % KUBE],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # Listening is not enough: Ctrl-C only reaches its handler once it is serving, a moment
        # after it says so.
        banner = []
        for line in self.process.stdout:
            banner.append(line)
            if line.startswith("serving the demo data set"):
                time.sleep(0.3)
                return self
        raise SystemExit("capstan-fakes did not start: " + "".join(banner))

    def __exit__(self, *_):
        self.process.send_signal(2)  # Ctrl-C: it prints its contract report and exits
        output, _ = self.process.communicate(timeout=10)
        if f" {self.violations} contract violation(s)" not in output.split("Kubernetes:")[-1]:
            raise SystemExit(f"the fake saw contract violations:\n{output}")


def send(method, path, body=None, content_type=None, expect=200):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("accept", "application/json")
    if content_type:
        request.add_header("content-type", content_type)
    try:
        with urllib.request.urlopen(request) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    if status != expect:
        raise SystemExit(f"{method} {path} answered {status}, not {expect}: {text[:300]!r}")
    return json.loads(text)


def save(name, value):
    with open(os.path.join(FIXTURES, name), "w") as file:
        json.dump(value, file, indent=1, sort_keys=True)
        file.write("\n")
    return value


def record(name, method, path, body=None, content_type=None, expect=200):
    return save(name, send(method, path, body, content_type, expect))


def rollout_path(namespace, name, sub=""):
    return f"{ROLLOUTS}/namespaces/{namespace}/rollouts/{name}{sub}"


def selector(name):
    return f"?limit=500&labelSelector=app.kubernetes.io%2Fname%3D{name}"


def status_patch(namespace, name, status):
    """What a Rollouts controller would write: a status change (not recorded)."""
    send("PATCH", rollout_path(namespace, name, "/status"), {"status": status}, MERGE)


def reads():
    record("rollouts.json", "GET", f"{ROLLOUTS}/rollouts?limit=500")
    record("rollouts-search-team.json", "GET",
           f"{ROLLOUTS}/namespaces/search/rollouts?limit=500&labelSelector=team%3Dsearch")
    for namespace, name in [("payments", "payments-api"), ("payments", "payments-worker"),
                            ("checkout", "checkout-web"), ("search", "search-api"),
                            ("search", "search-indexer"), ("data", "recommendations")]:
        record(f"rollout-{name}.json", "GET", rollout_path(namespace, name))
        if name != "recommendations":
            record(f"replicasets-{name}.json", "GET",
                   f"/apis/apps/v1/namespaces/{namespace}/replicasets{selector(name)}")
            record(f"pods-{name}.json", "GET", f"/api/v1/namespaces/{namespace}/pods{selector(name)}")
    for namespace in ["payments", "checkout", "search"]:
        record(f"analysisruns-{namespace}.json", "GET",
               f"{ROLLOUTS}/namespaces/{namespace}/analysisruns?limit=500")
        record(f"experiments-{namespace}.json", "GET",
               f"{ROLLOUTS}/namespaces/{namespace}/experiments?limit=500")
    record("analysisruns.json", "GET", f"{ROLLOUTS}/analysisruns?limit=500")
    record("analysisrun-recommendations-9b6c5d4f8-7.json", "GET",
           f"{ROLLOUTS}/namespaces/data/analysisruns/recommendations-9b6c5d4f8-7")
    record("deployment-search-indexer.json", "GET",
           "/apis/apps/v1/namespaces/search/deployments/search-indexer")
    record("rollout-nope.404.json", "GET", rollout_path("payments", "nope"), expect=404)
    # What the API answers for a path it does not serve (a CRD or subresource not installed).
    record("not-served.404.json", "GET", "/apis/example.io/v1", expect=404)
    record("rollout-hostile.404.json", "GET",
           rollout_path("payments", "x%2F..%2F..%2F..%2F..%2Fapi%2Fv1%2Fsecrets"), expect=404)


def promotes_and_children():
    """promote's three status patches, and the AnalysisRun and Experiment patches."""
    record("promote-payments-api.json", "PATCH", rollout_path("payments", "payments-api", "/status"),
           {"status": {"pauseConditions": None}}, MERGE)
    record("promote-search-api.json", "PATCH", rollout_path("search", "search-api", "/status"),
           {"status": {"pauseConditions": None, "controllerPause": False, "currentStepIndex": 3}},
           MERGE)
    record("promote-checkout-web.json", "PATCH", rollout_path("checkout", "checkout-web", "/status"),
           {"status": {"pauseConditions": None}}, MERGE)
    search = f"{ROLLOUTS}/namespaces/search"
    record("terminate-analysisrun.json", "PATCH", f"{search}/analysisruns/search-api-7f6d4c8b9-5-2",
           {"spec": {"terminate": True}}, MERGE)
    record("terminate-experiment.json", "PATCH", f"{search}/experiments/search-api-load-test",
           {"spec": {"terminate": True}}, MERGE)
    record("retry-experiment.json", "PATCH", f"{search}/experiments/search-api-load-test",
           {"status": None}, MERGE)


def mid_step():
    """search-api past its inconclusive analysis (a step analysis still running) and manually
    paused: promote sends the step status patch, then unpauses."""
    path = rollout_path("search", "search-api")
    send("PATCH", path, {"spec": {"paused": True}}, MERGE)
    status_patch("search", "search-api", {"pauseConditions": None, "controllerPause": None,
                                          "canary": {"currentStepAnalysisRunStatus": {"status": "Running"}}})
    record("rollout-search-api-mid-step.json", "GET", path)
    record("promote-search-api-mid-step.json", "PATCH", path + "/status",
           {"status": {"pauseConditions": None, "currentStepIndex": 3}}, MERGE)
    record("unpause-search-api.json", "PATCH", path, {"spec": {"paused": False}}, MERGE)


def pause_resume_restart():
    worker = rollout_path("payments", "payments-worker")
    record("pause-payments-worker.json", "PATCH", worker, {"spec": {"paused": True}}, MERGE)
    record("unpause-payments-worker.json", "PATCH", worker, {"spec": {"paused": False}}, MERGE)
    # 2026-01-01T00:00:00Z (the fixture's clock) plus the test's ten minutes.
    record("restart-payments-worker.json", "PATCH", worker,
           {"spec": {"restartAt": "2026-01-01T00:10:00Z"}}, MERGE)


def promote_full():
    """checkout-web paused, then fully promoted; and, on a fresh one, the controller's answers a
    wait for Healthy sees."""
    path = rollout_path("checkout", "checkout-web")
    record("pause-checkout-web.json", "PATCH", path, {"spec": {"paused": True}}, MERGE)
    record("promote-full-checkout-web.json", "PATCH", path + "/status",
           {"status": {"promoteFull": True}}, MERGE)
    record("unpause-checkout-web.json", "PATCH", path, {"spec": {"paused": False}}, MERGE)


def promote_full_and_wait():
    path = rollout_path("checkout", "checkout-web")
    record("promote-full-checkout-web-fresh.json", "PATCH", path + "/status",
           {"status": {"promoteFull": True}}, MERGE)
    status_patch("checkout", "checkout-web", {"pauseConditions": None, "phase": "Progressing",
                                              "message": "active service cutover pending"})
    rollout = record("rollout-checkout-web-cutover.json", "GET", path)
    status_patch("checkout", "checkout-web", {"phase": "Healthy", "message": "",
                                              "stableRS": rollout["status"]["currentPodHash"],
                                              "controllerPause": False})
    record("rollout-checkout-web-healthy.json", "GET", path)


def abort_retry():
    path = rollout_path("payments", "payments-api")
    record("abort-payments-api.json", "PATCH", path + "/status", {"status": {"abort": True}}, MERGE)
    status_patch("payments", "payments-api", {
        "phase": "Degraded", "message": "RolloutAborted: Rollout aborted update to revision 7",
        "abortedAt": "2026-08-20T11:50:00Z"})
    record("rollout-payments-api-aborted.json", "GET", path)
    record("retry-payments-api.json", "PATCH", path + "/status", {"status": {"abort": False}}, MERGE)


def without_template(replica_set):
    template = copy.deepcopy(replica_set["spec"]["template"])
    template["metadata"]["labels"].pop(HASH_LABEL, None)
    return template


def revision(replica_sets, number):
    for replica_set in replica_sets["items"]:
        if replica_set["metadata"]["annotations"]["rollout.argoproj.io/revision"] == str(number):
            return replica_set
    raise SystemExit(f"no ReplicaSet of revision {number}")


def set_image_and_undo():
    """set_image's GET + PUT with a conflict (another client wrote in between), undo's JSON
    Patch; and both on the workloadRef Deployment of search-indexer."""
    path = rollout_path("payments", "payments-worker")
    stale = send("GET", path)
    send("PATCH", path, {"metadata": {"annotations": {"example.com/touched-by": "another-client"}}},
         MERGE)
    stale["spec"]["template"]["spec"]["containers"][0]["image"] = \
        "ghcr.io/example-org/payments-worker:2.14.0"
    record("conflict-payments-worker.409.json", "PUT", path, stale, "application/json", expect=409)
    touched = record("rollout-payments-worker-touched.json", "GET", path)
    touched["spec"]["template"]["spec"]["containers"][0]["image"] = \
        "ghcr.io/example-org/payments-worker:2.14.0"
    record("set-image-payments-worker.json", "PUT", path, touched, "application/json")

    deployment_path = "/apis/apps/v1/namespaces/search/deployments/search-indexer"
    deployment = send("GET", deployment_path)
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        container["image"] = "ghcr.io/example-org/search-indexer:1.5.0"
    record("set-image-search-indexer.json", "PUT", deployment_path, deployment, "application/json")
    history = send("GET", f"/apis/apps/v1/namespaces/search/replicasets{selector('search-indexer')}")
    patch = [{"op": "replace", "path": "/spec/template",
              "value": without_template(revision(history, 3))}]
    record("undo-search-indexer.json", "PATCH", deployment_path, patch, JSON_PATCH)


def undo_worker():
    path = rollout_path("payments", "payments-worker")
    history = send("GET", f"/apis/apps/v1/namespaces/payments/replicasets{selector('payments-worker')}")
    patch = [{"op": "replace", "path": "/spec/template",
              "value": without_template(revision(history, 8))}]
    record("undo-payments-worker.json", "PATCH", path, patch, JSON_PATCH)


def main_resource_fallback():
    """The main-resource patches sent when the status subresource is not served (the fake
    serves it, so it ignores their `status`)."""
    record("abort-recommendations-main.json", "PATCH", rollout_path("data", "recommendations"),
           {"status": {"abort": True}}, MERGE)
    record("promote-payments-api-main.json", "PATCH", rollout_path("payments", "payments-api"),
           {"spec": {"paused": False}, "status": {"pauseConditions": None}}, MERGE)


def invalid():
    """An undo to a template the API refuses (`imagePullPolicy: 7`): 422, a contract violation."""
    history = send("GET", f"/apis/apps/v1/namespaces/payments/replicasets{selector('payments-worker')}")
    template = without_template(revision(history, 8))
    template["spec"]["containers"][0]["imagePullPolicy"] = 7
    record("undo-payments-worker-invalid.422.json", "PATCH",
           rollout_path("payments", "payments-worker"),
           [{"op": "replace", "path": "/spec/template", "value": template}], JSON_PATCH, expect=422)


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    for scenario, violations in [(reads, 0), (promotes_and_children, 0), (mid_step, 0),
                                 (pause_resume_restart, 0), (promote_full, 0),
                                 (promote_full_and_wait, 0), (abort_retry, 0),
                                 (set_image_and_undo, 0), (undo_worker, 0),
                                 (main_resource_fallback, 0), (invalid, 1)]:
        with Fake(violations):
            scenario()
        print(f"recorded {scenario.__name__}")


if __name__ == "__main__":
    main()
