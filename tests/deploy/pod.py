#!/usr/bin/env python3
"""Runs the rendered Deployment's capstan container from the unpacked image, mounted the way the
kubelet would mount it, without a cluster.

    pod.py run ROOTFS RENDERED WORKDIR    # needs root (mount namespace, chroot)
    pod.py same-objects A B               # two renders of one kustomization hold the same objects

`run` lays out each volume of the pod as the kubelet does: the ConfigMap and the Secret as
atomic-writer folders (a root of mode 0777 holding `..data`, a symlink to the version in force,
and one symlink per key), the emptyDir as a folder of mode 0777, the service-account token
(with `KUBERNETES_SERVICE_HOST` on loopback: nothing connects to it). In a private mount
namespace it bind-mounts ROOTFS read-only (readOnlyRootFilesystem), mounts the volumes at their
mountPaths, and runs the container's args in a chroot as the pod's user and fsGroup, with the
listen addresses moved to loopback. It then checks that all three plugins serve (/readyz), that
/healthz and /metrics answer, that the process runs as 65532 and writes only its cache, and that
a ConfigMap update (the kubelet's `..data` flip) is reloaded.
"""

import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import yaml

SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
problems = []


def fail(message):
    problems.append(message)
    print(f"FAIL {message}")


def objects(path):
    with open(path) as f:
        return [o for o in yaml.safe_load_all(f) if o]


def identity(obj):
    meta = obj.get("metadata") or {}
    return (obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("name"))


def same_objects(a, b):
    left = {identity(o): o for o in objects(a)}
    right = {identity(o): o for o in objects(b)}
    if left.keys() != right.keys():
        print(f"FAIL {a} and {b} render different objects: {sorted(map(str, left.keys() ^ right.keys()))}")
        return 1
    differ = [key for key in left if left[key] != right[key]]
    if differ:
        print(f"FAIL {a} and {b} render these objects differently: {differ}")
        return 1
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Volume:
    """A kubelet-style atomic-writer folder: root (0777), `..<version>` folders, `..data`."""

    def __init__(self, root, gid):
        self.root, self.gid, self.version = root, gid, 0
        os.makedirs(root)
        self.own(root, 0o2777 if gid is not None else 0o777)

    def own(self, path, mode):
        if self.gid is not None:
            os.chown(path, 0, self.gid)
        os.chmod(path, mode)

    def publish(self, files, mode):
        """Writes `files` (name → bytes) as a new version and flips `..data` to it."""
        self.version += 1
        name = f"..2026_01_01_00_00_{self.version:02d}.{self.version}"
        folder = os.path.join(self.root, name)
        os.mkdir(folder)
        self.own(folder, 0o2755 if self.gid is not None else 0o755)
        for key, data in files.items():
            path = os.path.join(folder, key)
            with open(path, "wb") as f:
                f.write(data)
            self.own(path, mode | (0o440 if self.gid is not None else 0))
        old = os.readlink(os.path.join(self.root, "..data")) if os.path.islink(os.path.join(self.root, "..data")) else None
        os.symlink(name, os.path.join(self.root, "..data_tmp"))
        os.rename(os.path.join(self.root, "..data_tmp"), os.path.join(self.root, "..data"))
        for key in files:
            link = os.path.join(self.root, key)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", key), link)
        for entry in os.listdir(self.root):
            if not entry.startswith("..") and entry not in files:
                os.remove(os.path.join(self.root, entry))
        if old:
            shutil.rmtree(os.path.join(self.root, old))


def first_certificate():
    with open("/etc/ssl/certs/ca-certificates.crt") as f:
        text = f.read()
    end = "-----END CERTIFICATE-----"
    return (text[: text.index(end) + len(end)] + "\n").encode()


def get(url, host=None):
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return None, ""


def env_value(item, pod_name):
    """The value of a container's env item, as the kubelet sets it (the pod's name for a
    `metadata.name` fieldRef, the only reference capstan's manifests use)."""
    if "value" in item:
        return item["value"]
    field = item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
    if field == "metadata.name":
        return pod_name
    fail(f"env {item['name']}: unsupported reference {item.get('valueFrom')}")


def replace_option(args, option, value):
    out, skip = [], False
    for arg in args:
        if skip:
            out.append(value)
            skip = False
        elif arg == option:
            out.append(arg)
            skip = True
        elif arg.startswith(option + "="):
            out.append(f"{option}={value}")
        else:
            out.append(arg)
    return out


def wait_ready(url, want, timeout=30.0, process=None):
    deadline = time.monotonic() + timeout
    body = ""
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return None
        status, body = get(url)
        if status == 200:
            ready = json.loads(body)
            names = sorted(i["name"] for i in ready.get("instances", []))
            if names == want and not ready.get("failures"):
                return ready
        time.sleep(0.2)
    return json.loads(body) if body.startswith("{") else body


def run(rootfs, rendered, workdir):
    if os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("unshare", "chroot", "mount")):
        print("skip  the pod run needs root, unshare and chroot")
        return 0
    everything = objects(rendered)
    deployment = next(o for o in everything if o["kind"] == "Deployment")
    config_maps = {o["metadata"]["name"]: o for o in everything if o["kind"] == "ConfigMap"}
    pod = deployment["spec"]["template"]["spec"]
    # The name the kubelet would give the pod: the Deployment's, a ReplicaSet hash, a suffix.
    pod_name = deployment["metadata"]["name"] + "-5d9c7b8f6-x2k4q"
    container = next(c for c in pod["containers"] if "serve" in (c.get("args") or []))
    pod_sc = pod.get("securityContext") or {}
    sc = container.get("securityContext") or {}
    uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
    gid = sc.get("runAsGroup", pod_sc.get("runAsGroup", uid))
    fs_group = pod_sc.get("fsGroup")

    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    mounts, volumes = [], {}
    text = json.dumps(container) + json.dumps([cm.get("data") for cm in config_maps.values()])
    for mount in container.get("volumeMounts") or []:
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        source = os.path.join(workdir, "volumes", mount["name"])
        path = mount["mountPath"]
        if "configMap" in volume:
            data = config_maps[volume["configMap"]["name"]].get("data") or {}
            files = {k: v.encode() for k, v in data.items()}
            volumes[mount["name"]] = Volume(source, fs_group)
            volumes[mount["name"]].publish(files, volume["configMap"].get("defaultMode", 0o644))
        elif "secret" in volume:
            # The keys the container and the plugin manifests name under the mount.
            keys = sorted(set(re.findall(re.escape(path) + r"/([A-Za-z0-9._-]+)", text)))
            files = {key: secrets.token_hex(32).encode() for key in keys}
            Volume(source, fs_group).publish(files, volume["secret"].get("defaultMode", 0o644))
        elif "emptyDir" in volume:
            os.makedirs(source)
            os.chmod(source, 0o777)
            if fs_group is not None:
                os.chown(source, 0, fs_group)
                os.chmod(source, 0o2777)
        else:
            fail(f"volume {mount['name']} is of a kind this run does not lay out")
            continue
        mounts.append((source, path, bool(mount.get("readOnly"))))
    api_port = free_port()
    if pod.get("automountServiceAccountToken", True):
        token = base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().encode()
        source = os.path.join(workdir, "volumes", "serviceaccount")
        Volume(source, fs_group).publish({"token": token, "ca.crt": first_certificate(), "namespace": b"capstan"}, 0o644)
        mounts.append((source, SERVICE_ACCOUNT, True))
    for _, path, _ in mounts:
        os.makedirs(os.path.join(rootfs, path.lstrip("/")), exist_ok=True)

    mcp, metrics = free_port(), free_port()
    args = replace_option(container["args"], "--listen", f"127.0.0.1:{mcp}")
    args = replace_option(args, "--metrics-listen", f"127.0.0.1:{metrics}")
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "KUBERNETES_SERVICE_HOST": "127.0.0.1",
           "KUBERNETES_SERVICE_PORT": str(api_port)}
    for item in container.get("env") or []:
        env[item["name"]] = env_value(item, pod_name)
    mount_bin, chroot = shutil.which("mount"), shutil.which("chroot")
    script = ["set -e", f'{mount_bin} --bind "{rootfs}" "{rootfs}"', f'{mount_bin} -o remount,bind,ro "{rootfs}"']
    for source, path, read_only in mounts:
        target = os.path.join(rootfs, path.lstrip("/"))
        script.append(f'{mount_bin} --bind "{source}" "{target}"')
        if read_only:
            script.append(f'{mount_bin} -o remount,bind,ro "{target}"')
    groups = f" --groups={fs_group}" if fs_group is not None else ""
    script.append(f'exec {chroot} --userspec={uid}:{gid}{groups} "{rootfs}" "$@"')
    command = [shutil.which("unshare"), "--mount", "--propagation", "private", "--",
               "/bin/sh", "-c", "\n".join(script), "pod"]
    command += ["/usr/local/bin/capstan"] + args
    log_path = os.path.join(workdir, "capstan.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        check_pod(process, mcp, metrics, uid, rootfs, workdir, volumes, config_maps, pod, container)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if problems:
        with open(log_path) as f:
            sys.stdout.write(f.read()[-4000:])
        print(f"{len(problems)} problem(s) running the pod", file=sys.stderr)
        return 1
    return 0


def check_pod(process, mcp, metrics, uid, rootfs, workdir, volumes, config_maps, pod, container):
    base = f"http://127.0.0.1:{mcp}"
    want = ["argocd", "flux", "rollouts"]
    ready = wait_ready(f"{base}/readyz", want, process=process)
    if not isinstance(ready, dict) or sorted(i["name"] for i in ready.get("instances", [])) != want:
        fail(f"the pod did not become ready with {want}: {ready!r} (exit {process.poll()})")
        return
    print(f"ok    the ha Deployment's container serves {', '.join(want)} from the image "
          "(read-only root, ConfigMap, Secret and emptyDir mounted as the kubelet does)")
    # The kubelet probes by the pod's IP; capstan admits an IP-address Host on both paths.
    for path in ("/healthz", "/readyz"):
        status, _ = get(base + path, host=f"10.0.0.7:{mcp}")
        if status != 200:
            fail(f"{path} with the Host a kubelet probe sends answered {status}")
    status, body = get(f"http://127.0.0.1:{metrics}/metrics", host=f"10.0.0.7:{metrics}")
    if status != 200 or "capstan_plugin_instances" not in body:
        fail(f"/metrics on the metrics port answered {status}")
    with open(f"/proc/{process.pid}/status") as f:
        ids = {line.split(":")[0]: line.split()[1:] for line in f if line.startswith(("Uid", "Gid"))}
    if ids.get("Uid", [None])[0] != str(uid):
        fail(f"capstan runs as uid {ids.get('Uid')}, not {uid}")
    cache = os.path.join(workdir, "volumes", "cache", "compiled")
    if os.path.isdir(cache):
        st = os.stat(cache)
        if st.st_uid != uid or st.st_mode & 0o077:
            fail(f"the compile cache is owned by {st.st_uid} with mode {st.st_mode & 0o777:o}")
    # An edit of the ConfigMap: the kubelet flips `..data` to the new version.
    mount = next(m for m in container["volumeMounts"] if m["name"] in volumes)
    volume = volumes[mount["name"]]
    config_map = next(v["configMap"] for v in pod["volumes"] if v["name"] == mount["name"])
    data = dict(config_maps[config_map["name"]]["data"])
    del data["flux.toml"]
    volume.publish({k: v.encode() for k, v in data.items()}, config_map.get("defaultMode", 0o644))
    ready = wait_ready(f"{base}/readyz", ["argocd", "rollouts"], timeout=15, process=process)
    if not isinstance(ready, dict) or sorted(i["name"] for i in ready.get("instances", [])) != ["argocd", "rollouts"]:
        fail(f"a ConfigMap update (..data flipped, flux.toml removed) was not reloaded: {ready!r}")
    else:
        print("ok    a ConfigMap update reaches the running pod: flux.toml removed, its instance retired")


def main(argv):
    if len(argv) == 3 and argv[0] == "same-objects":
        return same_objects(argv[1], argv[2])
    if len(argv) == 4 and argv[0] == "run":
        return run(*argv[1:])
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
