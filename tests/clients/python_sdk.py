"""Drives a running capstan with the official MCP Python SDK, in both protocol generations.

Usage: python_sdk.py URL   (capstan serving tests/clients/manifests/probe.toml)

Prints one line per mode and exits 0 when every check holds, 1 otherwise.
"""

import asyncio
import sys

from mcp import Client

MODES = {"legacy": "2025-11-25", "2026-07-28": "2026-07-28"}


async def check(url: str, mode: str) -> None:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async with Client(url, mode=mode) as client:
        assert client.protocol_version == MODES[mode], client.protocol_version
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
    print(f"ok python-sdk mode={mode}: tools/list, structured echo, validation error, 3 progress updates, trap isolated")


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
