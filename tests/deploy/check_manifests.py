#!/usr/bin/env python3
"""Checks rendered Kubernetes manifests (kubectl kustomize output) against capstan's rules.

    check_manifests.py [--image-tag VERSION] NAME=FILE...

Each FILE is one rendered kustomization, NAME what to call it in messages. Every pod template
must meet the restricted Pod Security Standard (non-root, no privilege escalation, every
capability dropped, RuntimeDefault seccomp, read-only root), have resources, `/healthz` and
`/readyz` probes and a pinned image; the plugin manifests must come from a whole ConfigMap
volume (a subPath mount never sees an update) that `--plugins` points into; RBAC may name no
`*` and no escalation verb, and a ClusterRole labelled `capstan-access: read-only` may only
read. With --image-tag, the `capstan` image must carry that tag (capstan's version). Prints one
line per problem and exits 1 if there is any.
"""

import sys

import yaml

READ_VERBS = {"get", "list", "watch"}
FORBIDDEN_VERBS = {"*", "escalate", "bind", "impersonate"}
POD_KINDS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
# What the restricted profile lets a container add back.
ALLOWED_ADDED_CAPABILITIES = {"NET_BIND_SERVICE"}


def dig(value, *path):
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


class Checker:
    def __init__(self, image_tag=None):
        self.problems = []
        self.image_tag = image_tag

    def fail(self, where, message):
        self.problems.append(f"{where}: {message}")

    def check(self, name, objects):
        objects = [o for o in objects if o]
        if not objects:
            self.fail(name, "renders no objects")
            return
        for obj in objects:
            kind = obj.get("kind", "?")
            where = f"{name}: {kind}/{dig(obj, 'metadata', 'name')}"
            if kind in POD_KINDS:
                self.pod_template(where, obj, dig(obj, *POD_KINDS[kind]))
            elif kind == "Pod":
                self.pod_template(where, obj, obj)
            elif kind in ("Role", "ClusterRole"):
                self.role(where, obj)
            elif kind in ("RoleBinding", "ClusterRoleBinding"):
                self.binding(where, obj, objects)
        self.references(name, objects)

    # Pods ---------------------------------------------------------------------------------

    def pod_template(self, where, owner, template):
        spec = dig(template, "spec") or {}
        pod_sc = spec.get("securityContext") or {}
        for host in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(host):
                self.fail(where, f"sets {host}")
        volumes = {v.get("name"): v for v in spec.get("volumes") or []}
        for name, volume in volumes.items():
            if "hostPath" in volume:
                self.fail(where, f"volume `{name}` is a hostPath")
        if pod_sc.get("runAsUser") == 0:
            self.fail(where, "the pod runs as user 0")
        containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
        if not spec.get("containers"):
            self.fail(where, "has no containers")
        for container in containers:
            self.container(f"{where} container {container.get('name')}", pod_sc, container)
        for container in spec.get("containers") or []:
            self.capstan_container(f"{where} container {container.get('name')}", container, volumes)

    def container(self, where, pod_sc, container):
        sc = container.get("securityContext") or {}

        def effective(key):
            return sc[key] if key in sc else pod_sc.get(key)

        if effective("runAsNonRoot") is not True:
            self.fail(where, "runAsNonRoot is not true (restricted profile)")
        user = effective("runAsUser")
        if user is None or user == 0:
            self.fail(where, f"runAsUser is {user!r}: name a non-root user (the image's is 65532)")
        if sc.get("allowPrivilegeEscalation") is not False:
            self.fail(where, "allowPrivilegeEscalation is not false (restricted profile)")
        if sc.get("privileged"):
            self.fail(where, "is privileged")
        drop = dig(sc, "capabilities", "drop") or []
        if "ALL" not in drop:
            self.fail(where, "capabilities.drop does not contain ALL (restricted profile)")
        added = set(dig(sc, "capabilities", "add") or []) - ALLOWED_ADDED_CAPABILITIES
        if added:
            self.fail(where, f"adds capabilities {sorted(added)}")
        seccomp = dig(sc, "seccompProfile", "type") or dig(pod_sc, "seccompProfile", "type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            self.fail(where, f"seccompProfile.type is {seccomp!r}, not RuntimeDefault")
        if sc.get("readOnlyRootFilesystem") is not True:
            self.fail(where, "readOnlyRootFilesystem is not true")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                self.fail(where, f"uses hostPort {port['hostPort']}")
        image = container.get("image") or ""
        self.image(where, image)
        resources = container.get("resources") or {}
        for need in ("cpu", "memory"):
            if need not in (resources.get("requests") or {}):
                self.fail(where, f"has no {need} request")
        if "memory" not in (resources.get("limits") or {}):
            self.fail(where, "has no memory limit")

    def image(self, where, image):
        if not image:
            self.fail(where, "has no image")
            return
        if "@sha256:" in image:
            return
        last = image.rsplit("/", 1)[-1]
        if ":" not in last:
            self.fail(where, f"image `{image}` has no tag (it would mean latest)")
        elif last.rsplit(":", 1)[1] == "latest":
            self.fail(where, f"image `{image}` uses the tag latest; pin a version")
        elif self.image_tag and last.split(":")[0] == "capstan" and last.rsplit(":", 1)[1] != self.image_tag:
            self.fail(where, f"image `{image}` is not capstan's version {self.image_tag}")

    def capstan_container(self, where, container, volumes):
        args = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
        if "serve" not in args:
            return
        for kind, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            probe = container.get(kind)
            if not probe:
                self.fail(where, f"has no {kind} (capstan answers {path})")
            elif dig(probe, "httpGet", "path") != path:
                self.fail(where, f"{kind} does not GET {path}")
        plugins = option_values(args, "--plugins")
        if not plugins:
            self.fail(where, "serves without --plugins")
        mounts = container.get("volumeMounts") or []
        for folder in plugins:
            mount = mount_of(folder, mounts)
            if mount is None:
                self.fail(where, f"--plugins {folder} is not on a mounted volume")
                continue
            volume = volumes.get(mount.get("name")) or {}
            if "subPath" in mount or "subPathExpr" in mount:
                self.fail(
                    where,
                    f"the plugin volume `{mount.get('name')}` is mounted with subPath: "
                    "Kubernetes never updates a subPath mount, so no reload would see an edit",
                )
            if not any(k in volume for k in ("configMap", "projected", "secret")):
                self.fail(where, f"the plugin volume `{mount.get('name')}` is not a ConfigMap")
            if not mount.get("readOnly"):
                self.fail(where, f"the plugin volume `{mount.get('name')}` is not mounted readOnly")
        plugin_mounts = [mount_of(folder, mounts) for folder in plugins]
        for mount in mounts:
            if mount in plugin_mounts:
                continue
            if "subPath" in mount or "subPathExpr" in mount:
                volume = volumes.get(mount.get("name")) or {}
                if any(k in volume for k in ("configMap", "projected", "secret")):
                    self.fail(where, f"`{mount.get('name')}` is mounted with subPath and would never update")
        for folder in option_values(args, "--cache-dir"):
            if mount_of(folder, mounts) is None:
                self.fail(where, f"--cache-dir {folder} is on the read-only root filesystem")

    # RBAC ---------------------------------------------------------------------------------

    def role(self, where, role):
        access = dig(role, "metadata", "labels", "capstan-access")
        if access not in ("read-only", "operator"):
            self.fail(where, "has no label capstan-access: read-only|operator")
        if role.get("aggregationRule"):
            self.fail(where, "aggregates other roles")
        for i, rule in enumerate(role.get("rules") or []):
            at = f"{where} rule {i + 1}"
            verbs = set(rule.get("verbs") or [])
            for field in ("apiGroups", "resources", "resourceNames", "nonResourceURLs"):
                if "*" in (rule.get(field) or []) or any("*" in str(v) for v in rule.get(field) or []):
                    self.fail(at, f"{field} contains `*`")
            bad = verbs & FORBIDDEN_VERBS
            if bad:
                self.fail(at, f"grants {sorted(bad)}")
            if access == "read-only" and verbs - READ_VERBS:
                self.fail(at, f"a read-only role grants write verbs {sorted(verbs - READ_VERBS)}")
            if "secrets" in (rule.get("resources") or []) and role.get("kind") == "ClusterRole":
                self.fail(at, "grants Secrets cluster-wide")

    def binding(self, where, binding, objects):
        ref = binding.get("roleRef") or {}
        if ref.get("name") in ("cluster-admin", "admin", "edit", "view"):
            self.fail(where, f"binds the built-in role {ref['name']}")

    def references(self, name, objects):
        by_kind = {}
        for obj in objects:
            by_kind.setdefault(obj.get("kind"), set()).add(dig(obj, "metadata", "name"))
        for obj in objects:
            kind = obj.get("kind")
            where = f"{name}: {kind}/{dig(obj, 'metadata', 'name')}"
            if kind in ("ClusterRoleBinding", "RoleBinding"):
                ref = obj.get("roleRef") or {}
                if ref.get("name") not in by_kind.get(ref.get("kind"), set()):
                    self.fail(where, f"binds {ref.get('kind')}/{ref.get('name')}, which is not rendered with it")
            if kind == "HorizontalPodAutoscaler":
                target = dig(obj, "spec", "scaleTargetRef") or {}
                if target.get("name") not in by_kind.get(target.get("kind"), set()):
                    self.fail(where, f"scales {target.get('kind')}/{target.get('name')}, which is not rendered with it")
            if kind in POD_KINDS:
                spec = dig(obj, *POD_KINDS[kind], "spec") or {}
                for volume in spec.get("volumes") or []:
                    cm = dig(volume, "configMap", "name")
                    if cm and cm not in by_kind.get("ConfigMap", set()):
                        self.fail(where, f"mounts ConfigMap {cm}, which is not rendered with it")
        pods = [o for o in objects if o.get("kind") in POD_KINDS]
        if pods and "NetworkPolicy" not in by_kind:
            self.fail(name, "has pods but no NetworkPolicy")


def option_values(args, option):
    values = []
    for i, arg in enumerate(args):
        if arg == option and i + 1 < len(args):
            values.append(args[i + 1])
        elif arg.startswith(option + "="):
            values.append(arg.split("=", 1)[1])
    return values


def mount_of(path, mounts):
    """The mount holding `path` (the longest mountPath that is a prefix)."""
    best = None
    for mount in mounts:
        root = mount.get("mountPath", "").rstrip("/")
        if (path == root or path.startswith(root + "/")) and (
            best is None or len(root) > len(best.get("mountPath", ""))
        ):
            best = mount
    return best


def main(argv):
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    image_tag = None
    if argv[:1] == ["--image-tag"] and len(argv) > 2:
        image_tag, argv = argv[1], argv[2:]
    checker = Checker(image_tag)
    for spec in argv:
        name, _, path = spec.partition("=")
        if not path:
            name, path = spec, spec
        with open(path) as f:
            checker.check(name, list(yaml.safe_load_all(f)))
    for problem in checker.problems:
        print(f"FAIL {problem}")
    if checker.problems:
        print(f"{len(checker.problems)} problem(s) in the Kubernetes manifests", file=sys.stderr)
        return 1
    print(f"manifest rules hold for {', '.join(s.partition('=')[0] for s in argv)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
