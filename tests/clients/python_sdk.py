"""Drives a running capstan with the official MCP Python SDK, in both protocol generations.

Usage: python_sdk.py URL   (capstan serving tests/clients/manifests: probe, fixture, argocd)

Prints one line per mode and exits 0 when every check holds, 1 otherwise.
"""

import asyncio
import sys
from typing import Any

from mcp import Client, types
from pydantic import TypeAdapter

MODES = {"legacy": "2025-11-25", "2026-07-28": "2026-07-28"}


class SkillsList(types.Request[dict[str, Any] | None, str]):
    """`skills/list` (SEP-2640), which the SDK has no method for: sent as a plain request."""

    method: str = "skills/list"
    params: dict[str, Any] | None = None


async def check_tools(client: Client) -> None:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    names = [tool.name for tool in (await client.list_tools()).tools]
    assert names == sorted(names), names
    assert "probe_echo" in names and "probe_progress" in names, names

    echo = await client.call_tool("probe_echo", {"text": "py", "times": 2})
    assert not echo.is_error, echo
    assert echo.structured_content == {"echo": "pypy"}, echo.structured_content

    invalid = await client.call_tool("probe_echo", {"times": 2})
    assert invalid.is_error, invalid
    assert "text" in invalid.content[0].text, invalid.content

    done = await client.call_tool("probe_progress", {"steps": 3, "delay_ms": 5}, progress_callback=on_progress)
    assert not done.is_error, done
    assert [p[0] for p in progress] == [1.0, 2.0, 3.0], progress
    assert progress[-1][1] == 3.0, progress

    crash = await client.call_tool("probe_trap", {})
    assert crash.is_error and "crashed" in crash.content[0].text, crash.content


async def check_resources(client: Client) -> None:
    uris = [resource.uri for resource in (await client.list_resources()).resources]
    assert "fixture://static-text" in uris, uris
    templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
    assert "fixture://template/{id}/data" in templates, templates

    text = (await client.read_resource("fixture://static-text")).contents[0]
    assert text.text == "This is the content of the static text resource.", text
    data = (await client.read_resource("fixture://template/42/data")).contents[0]
    assert '"42"' in data.text, data

    prompt = types.PromptReference(type="ref/prompt", name="fixture_test_prompt_with_arguments")
    values = (await client.complete(prompt, {"name": "arg1", "value": "par"})).completion.values
    assert values == ["paris", "park", "party"], values
    template = types.ResourceTemplateReference(type="ref/resource", uri="fixture://template/{id}/data")
    ids = (await client.complete(template, {"name": "id", "value": ""})).completion.values
    assert ids, ids


async def check_input_required(client: Client, asked: list[str]) -> None:
    # 2026-07-28: an `input_required` result the SDK answers and retries with; 2025-11-25:
    # capstan asks with elicitation/create on the session. Either way, the same callback.
    answered = await client.call_tool("fixture_test_input_required_result_elicitation", {})
    assert not answered.is_error, answered
    assert answered.content[0].text == "Hello, Ada!", answered.content
    assert asked == ["What is your name?"], asked


async def check_skills(client: Client) -> None:
    listed = await client.session.send_request(SkillsList(), TypeAdapter(dict[str, Any]))
    skills = listed["skills"]
    uris = [skill["uri"] for skill in skills]
    assert "skill://argocd/argocd-degraded-application/SKILL.md" in uris, uris
    degraded = next(s for s in skills if s["uri"].endswith("argocd-degraded-application/SKILL.md"))
    skill_md = (await client.read_resource(degraded["uri"])).contents[0].text
    assert skill_md.startswith("---\nname: argocd-degraded-application"), skill_md[:80]
    assert "argocd_get_application" in skill_md, "the skill names its tools with the instance prefix"


async def check(url: str, mode: str) -> None:
    asked: list[str] = []

    async def on_elicit(_context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async with Client(url, mode=mode, elicitation_callback=on_elicit) as client:
        assert client.protocol_version == MODES[mode], client.protocol_version
        await check_tools(client)
        await check_resources(client)
        await check_input_required(client, asked)
        await check_skills(client)
    print(
        f"ok python-sdk mode={mode}: tools (structured echo, validation error, progress, trap isolated), "
        "resources and a template read, completions, an input-required round trip, skills"
    )


async def main(url: str) -> int:
    failed = False
    for mode in MODES:
        try:
            await check(url, mode)
        except Exception as error:  # noqa: BLE001 - report every failure with its mode
            failed = True
            print(f"FAILED python-sdk mode={mode}: {error!r}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
