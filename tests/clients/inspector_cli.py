"""Drives a running capstan with the MCP Inspector's CLI (`mcp-inspector --cli`), in both
protocol eras: every command is a fresh Inspector process, as a person or a script runs it.

Usage: inspector_cli.py URL INSPECTOR   (capstan serving tests/clients/manifests; INSPECTOR is
the `mcp-inspector` launcher script, run with the `node` on PATH)

Prints one line per era and exits 0 when every check holds, 1 otherwise.
"""

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

ROOT = "file:///srv/gitops"


def inspector(launcher: str, home: str, era: str, *args: str) -> Any:
    config = os.path.join(home, "mcp.json")
    command = ["node", launcher, "--cli", "--config", config, "--server", "capstan"]
    command += ["--protocol-era", era, "--format", "json", "-q", *args]
    # HOME is the temporary folder, so nothing the Inspector stores outlives the check.
    environment = {**os.environ, "HOME": home}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=environment
    )
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()[:400]}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return lines[0] if len(lines) == 1 else lines


def result(answer: Any) -> Any:
    assert "result" in answer, answer
    return answer["result"]


def check(url: str, launcher: str, era: str) -> None:
    with tempfile.TemporaryDirectory() as home:
        config = os.path.join(home, "mcp.json")
        server = {"type": "streamable-http", "url": url, "roots": [{"uri": ROOT, "name": "gitops"}]}
        with open(config, "w") as file:
            json.dump({"mcpServers": {"capstan": server}}, file)

        def run(*args: str) -> Any:
            return inspector(launcher, home, era, *args)

        tools = [tool["name"] for tool in result(run("--method", "tools/list"))["tools"]]
        assert "probe_echo" in tools and "fixture_test_input_required_result_list_roots" in tools, tools

        echo = result(run("--method", "tools/call", "--tool-name", "probe_echo", "--tool-arg", "text=cli"))
        assert echo["structuredContent"] == {"echo": "cli"}, echo

        resources = [r["uri"] for r in result(run("--method", "resources/list"))["resources"]]
        assert "fixture://static-text" in resources, resources
        templates = result(run("--method", "resources/templates/list"))["resourceTemplates"]
        assert "fixture://template/{id}/data" in [t["uriTemplate"] for t in templates], templates
        read = result(run("--method", "resources/read", "--uri", "fixture://static-text"))
        assert read["contents"][0]["text"] == "This is the content of the static text resource.", read

        # The CLI has no completion method (its --cli methods are listed in its error); the
        # Python SDK checks completions.

        # An input-required round trip the CLI answers by itself: the plugin asks for the
        # client's roots, the Inspector answers with the configured one, the plugin goes on.
        roots = result(run("--method", "tools/call", "--tool-name", "fixture_test_input_required_result_list_roots"))
        assert not roots.get("isError"), roots
        assert roots["content"][0]["text"] == f"Found 1 root(s): {ROOT}", roots

        reports = run("--method", "skills/list", "--verify", "--require-digests")
        reports = reports if isinstance(reports, list) else [reports]
        assert len(reports) >= 3, reports
        failed = [r["uri"] for r in reports if not r.get("ok") or r.get("outcome") != "verified"]
        assert not failed, f"skills whose digests did not verify: {failed}"
        uri = "skill://argocd/argocd-degraded-application/SKILL.md"
        got = run("--method", "skills/get", "--uri", uri, "--verify", "--require-digests")
        assert got.get("ok") and got.get("outcome") == "verified", got
    print(
        f"ok inspector-cli era={era}: tools/list and call, resources list, templates and read, "
        f"an input-required round trip (roots), {len(reports)} skills listed and one got, digests verified"
    )


def main(url: str, launcher: str) -> int:
    failed = False
    for era in ["legacy", "modern"]:
        try:
            check(url, launcher, era)
        except Exception as error:  # noqa: BLE001 - report every failure with its era
            failed = True
            print(f"FAILED inspector-cli era={era}: {error}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
