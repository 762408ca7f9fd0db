#!/usr/bin/env python3
"""The image configuration the Dockerfile's last stage declares, for `./dev image`.

    dockerfile.py umoci-args DOCKERFILE VERSION   # `umoci config` options, one a line
    dockerfile.py json DOCKERFILE VERSION         # the same as JSON, for the image check

Reads ENTRYPOINT, CMD, USER, EXPOSE, VOLUME, LABEL and the ARG defaults of the last stage
(after the last FROM); VERSION replaces the default of `ARG VERSION`. Only the exec (JSON) form of
ENTRYPOINT, CMD and VOLUME is accepted, as the Dockerfile uses.
"""

import json
import re
import shlex
import sys


def instructions(text):
    """(INSTRUCTION, arguments) of every instruction, continuation lines joined."""
    joined, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        joined.append(current + stripped)
        current = ""
    if current:
        joined.append(current)
    for line in joined:
        word, _, rest = line.partition(" ")
        yield word.upper(), rest.strip()


def substitute(value, args):
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), ""), value)


def config(path, version):
    with open(path) as f:
        parsed = list(instructions(f.read()))
    last_from = max(i for i, (word, _) in enumerate(parsed) if word == "FROM")
    args = {}
    image = {"labels": {}, "exposed": [], "volumes": []}
    for word, rest in parsed[last_from + 1 :]:
        if word == "ARG":
            name, _, default = rest.partition("=")
            args[name] = version if name == "VERSION" else default.strip('"')
        elif word in ("ENTRYPOINT", "CMD", "VOLUME"):
            value = json.loads(rest)
            key = {"ENTRYPOINT": "entrypoint", "CMD": "cmd", "VOLUME": "volumes"}[word]
            image[key] = image[key] + value if word == "VOLUME" else value
        elif word == "USER":
            image["user"] = substitute(rest, args)
        elif word == "EXPOSE":
            image["exposed"] += [p if "/" in p else p + "/tcp" for p in rest.split()]
        elif word == "LABEL":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                image["labels"][key] = substitute(value, args)
    return image


def umoci_args(image):
    out = [f"--config.user={image['user']}"]
    out += [f"--config.entrypoint={part}" for part in image["entrypoint"]]
    out += [f"--config.cmd={part}" for part in image["cmd"]]
    out += [f"--config.exposedports={port}" for port in image["exposed"]]
    out += [f"--config.volume={volume}" for volume in image["volumes"]]
    out += [f"--config.label={key}={value}" for key, value in image["labels"].items()]
    return out


def main(argv):
    if len(argv) != 3 or argv[0] not in ("umoci-args", "json"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    image = config(argv[1], argv[2])
    if argv[0] == "json":
        print(json.dumps(image, indent=2))
    else:
        print("\n".join(umoci_args(image)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
