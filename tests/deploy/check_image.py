#!/usr/bin/env python3
"""Checks the image `./dev image` assembled, and runs it from its unpacked root filesystem.

    check_image.py LAYOUT TAG DOCKERFILE BUNDLE

LAYOUT is the OCI layout, TAG the image's tag (capstan's version), DOCKERFILE the Dockerfile
whose last stage the configuration must match, BUNDLE the image unpacked by `umoci unpack`.
Checks the configuration (a non-root user, the entrypoint, CMD, ports, volume and labels of the
Dockerfile, `ARG VERSION` = the tag), the file layout the Dockerfile also builds, then runs
`capstan --version` and `capstan check` on the bundled plugin folders as user 65532: in a chroot
when root may chroot, else through the image's own dynamic loader. Prints the image's size
(the layers' compressed blobs).
"""

import glob
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "image"))
import dockerfile  # noqa: E402

PLUGINS = ("argocd", "rollouts", "flux")
USER = 65532

problems = []


def fail(message):
    problems.append(message)
    print(f"FAIL {message}")


def blob(layout, digest):
    algorithm, hexdigest = digest.split(":", 1)
    path = os.path.join(layout, "blobs", algorithm, hexdigest)
    with open(path, "rb") as f:
        data = f.read()
    if hashlib.new(algorithm, data).hexdigest() != hexdigest:
        fail(f"blob {digest} does not match its digest")
    return data


def image_config(layout, tag):
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    tagged = [
        m for m in index.get("manifests", [])
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    ]
    if len(tagged) != 1:
        fail(f"the layout has {len(tagged)} manifests tagged {tag}, not one")
        sys.exit(1)
    manifest = json.loads(blob(layout, tagged[0]["digest"]))
    config = json.loads(blob(layout, manifest["config"]["digest"]))
    return manifest, config


def check_config(config, expected, tag, dockerfile_path):
    c = config.get("config", {})
    user = c.get("User", "")
    uid = user.split(":", 1)[0]
    if user != expected["user"]:
        fail(f"User is {user!r}, the Dockerfile says {expected['user']!r}")
    if uid in ("", "0", "root"):
        fail(f"the image runs as root (User {user!r})")
    if c.get("Entrypoint") != ["/usr/local/bin/capstan"] or c.get("Entrypoint") != expected["entrypoint"]:
        fail(f"Entrypoint is {c.get('Entrypoint')}, the Dockerfile says {expected['entrypoint']}")
    if c.get("Cmd") != expected["cmd"]:
        fail(f"Cmd is {c.get('Cmd')}, the Dockerfile says {expected['cmd']}")
    if sorted(c.get("ExposedPorts", {})) != sorted(expected["exposed"]):
        fail(f"ExposedPorts are {sorted(c.get('ExposedPorts', {}))}, the Dockerfile says {expected['exposed']}")
    if sorted(c.get("Volumes", {})) != sorted(expected["volumes"]):
        fail(f"Volumes are {sorted(c.get('Volumes', {}))}, the Dockerfile says {expected['volumes']}")
    labels = c.get("Labels", {})
    for key, value in expected["labels"].items():
        if labels.get(key) != value:
            fail(f"label {key} is {labels.get(key)!r}, the Dockerfile says {value!r}")
    if labels.get("org.opencontainers.image.version") != tag:
        fail(f"label org.opencontainers.image.version is not {tag}")
    with open(dockerfile_path) as f:
        declared = re.findall(r"^ARG VERSION=(\S+)", f.read(), re.M)
    if declared != [tag]:
        fail(f"the Dockerfile's ARG VERSION default is {declared}, capstan's version is {tag}")
    if config.get("os") != "linux" or not config.get("architecture"):
        fail(f"os/architecture are {config.get('os')}/{config.get('architecture')}")


def check_layout(rootfs):
    def need(path, kind, mode=None, uid=0):
        full = os.path.join(rootfs, path.lstrip("/"))
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            fail(f"{path} is missing from the image")
            return
        if kind == "dir" and not stat.S_ISDIR(st.st_mode) or kind == "file" and not stat.S_ISREG(st.st_mode):
            fail(f"{path} is not a {kind}")
        if mode is not None and stat.S_IMODE(st.st_mode) != mode:
            fail(f"{path} has mode {stat.S_IMODE(st.st_mode):o}, not {mode:o}")
        if st.st_uid != uid:
            fail(f"{path} belongs to {st.st_uid}, not {uid}")
        if kind == "dir" and st.st_mode & 0o022 and path != "/tmp":
            fail(f"{path} is writable by others")

    need("/usr/local/bin/capstan", "file", 0o755)
    need("/etc/ssl/certs/ca-certificates.crt", "file", 0o644)
    need("/etc/passwd", "file", 0o644)
    need("/etc/group", "file", 0o644)
    need("/var/cache/capstan", "dir", 0o700, uid=USER)
    for plugin in PLUGINS:
        need(f"/etc/capstan/plugins/{plugin}", "dir", 0o755)
        need(f"/etc/capstan/plugins/{plugin}/{plugin}.wasm", "file", 0o644)
        need(f"/etc/capstan/plugins/{plugin}/{plugin}.toml", "file", 0o644)
    with open(os.path.join(rootfs, "etc/passwd")) as f:
        if not any(line.split(":")[2:4] == [str(USER), str(USER)] for line in f):
            fail(f"/etc/passwd has no user {USER} in group {USER}")


def runner(rootfs):
    """How to run the image's binary as 65532: chroot, or its own loader and libraries."""
    chroot = shutil.which("chroot")
    if os.geteuid() == 0 and chroot:
        probe = subprocess.run(
            [chroot, f"--userspec={USER}:{USER}", rootfs, "/usr/local/bin/capstan", "--version"],
            capture_output=True,
        )
        if probe.returncode == 0:
            return "chroot", lambda args: [chroot, f"--userspec={USER}:{USER}", rootfs] + args, lambda p: p
    loaders = sorted(glob.glob(os.path.join(rootfs, "lib*", "ld-linux*.so*")))
    libs = ":".join(sorted({os.path.dirname(p) for p in glob.glob(os.path.join(rootfs, "**", "lib*.so*"), recursive=True)}))
    if not loaders:
        fail("cannot chroot, and the image holds no dynamic loader to run it with")
        sys.exit(1)
    loader = loaders[0]

    def inside(path):
        return os.path.join(rootfs, path.lstrip("/"))

    def command(args):
        return [loader, "--library-path", libs, inside(args[0])] + [
            inside(a) if a.startswith("/etc/capstan") or a.startswith("/var/cache") else a for a in args[1:]
        ]

    return "the image's dynamic loader", command, inside


def run_binary(rootfs, tag):
    how, command, inside = runner(rootfs)
    version = subprocess.run(command(["/usr/local/bin/capstan", "--version"]), capture_output=True, text=True)
    if version.returncode != 0 or version.stdout.strip() != f"capstan {tag}":
        fail(f"capstan --version from the image ({how}) said {version.stdout!r} {version.stderr!r}")
    else:
        print(f"ok    {version.stdout.strip()} runs from the unpacked image ({how})")
    folders = [f"/etc/capstan/plugins/{p}" for p in PLUGINS]
    # In the chroot, the image's own cache volume; otherwise (not as 65532) a folder of ours.
    scratch = None if how == "chroot" else tempfile.mkdtemp(prefix="capstan-check-")
    cache = "/var/cache/capstan/compiled" if scratch is None else os.path.join(scratch, "cache")
    check = subprocess.run(command(["/usr/local/bin/capstan", "check", *folders, "--cache-dir", cache]),
                           capture_output=True, text=True)
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    sys.stdout.write("".join(f"      {line[:150]}\n" for line in check.stdout.splitlines()))
    if check.returncode != 0:
        fail(f"capstan check on the bundled plugins failed ({how}): {check.stderr.strip()}")
    elif sum(line.startswith("ok") for line in check.stdout.splitlines()) != len(PLUGINS):
        fail("capstan check did not load all three bundled plugins")


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    layout, tag, dockerfile_path, bundle = argv
    manifest, config = image_config(layout, tag)
    expected = dockerfile.config(dockerfile_path, tag)
    check_config(config, expected, tag, dockerfile_path)
    with open(os.path.join(bundle, "config.json")) as f:
        runtime = json.load(f)
    if runtime.get("process", {}).get("user", {}).get("uid") != USER:
        fail(f"the unpacked bundle's process runs as uid {runtime.get('process', {}).get('user')}")
    rootfs = os.path.join(bundle, "rootfs")
    check_layout(rootfs)
    run_binary(rootfs, tag)
    layers = manifest.get("layers", [])
    size = sum(layer["size"] for layer in layers)
    print(
        f"image capstan:{tag} ({config.get('os')}/{config.get('architecture')}): {len(layers)} layer(s), "
        f"{size} bytes compressed ({size / 1048576:.1f} MiB); user {config['config'].get('User')}, "
        f"entrypoint {config['config'].get('Entrypoint')}"
    )
    if problems:
        print(f"{len(problems)} problem(s) with the image", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
