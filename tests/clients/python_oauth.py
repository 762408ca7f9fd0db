"""Drives a capstan that requires OAuth with the official MCP Python SDK as a real OAuth client.

Usage: python_oauth.py URL USER EXPECT_JSON

URL is capstan's MCP endpoint; USER is a user of the test OpenID provider (tests/oidc,
e.g. alice or bob). The SDK's OAuthClientProvider does the whole dance: the request without a
token gets 401, the client reads the protected resource metadata named in WWW-Authenticate,
discovers the authorization server, registers itself (dynamic client registration), runs
authorization code + PKCE with the resource indicator, and retries with the token. The
authorization "browser" here is a redirect handler that logs USER in through the provider's
headless interaction (GET /interaction/UID?login=USER) and captures the code.

EXPECT_JSON says what must hold once connected:
  {"listed": ["probe_echo"],                 tools that tools/list must show
   "absent": ["probe_trap"],                 tools it must not show
   "succeed": {"probe_echo": {"text": "x"}}, calls that must succeed (tool: arguments)
   "refused": {"probe_trap": {}}}            calls that must fail (error result or error)
Each mode the SDK has (the 2025-11-25 handshake and 2026-07-28) runs with a fresh client
registration and prints one `ok ...` line; exits 0 when every check holds, 1 otherwise.
"""

import asyncio
import json
import sys
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

MODES = ["legacy", "2026-07-28"]
REDIRECT_URI = "http://127.0.0.1:47113/callback"


class MemoryStorage:
    """Token storage that lives as long as one client."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class HeadlessBrowser:
    """Follows the authorization request like a browser would, logging `user` in at the
    provider's interaction, and keeps the redirect back to REDIRECT_URI for the callback."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.result: AuthorizationCodeResult | None = None
        self.visited: list[str] = []

    async def redirect(self, authorization_url: str) -> None:
        async with httpx2.AsyncClient(follow_redirects=False, timeout=30) as http:
            url = authorization_url
            for _ in range(10):
                if url.startswith(REDIRECT_URI):
                    self.result = callback_result(url)
                    return
                self.visited.append(urlparse(url).path)
                response = await http.get(url)
                location = response.headers.get("location")
                if location is None:
                    raise RuntimeError(f"the provider answered {response.status_code} at {url}: {response.text[:300]}")
                url = urljoin(url, location)
                if urlparse(url).path.startswith("/interaction/"):
                    url += ("&" if "?" in url else "?") + f"login={self.user}"
        raise RuntimeError(f"too many redirects: {self.visited}")

    async def callback(self) -> AuthorizationCodeResult:
        if self.result is None:
            raise RuntimeError("the authorization request never came back to the redirect URI")
        return self.result


def callback_result(url: str) -> AuthorizationCodeResult:
    query = {key: values[0] for key, values in parse_qs(urlparse(url).query).items()}
    if "error" in query:
        raise RuntimeError(f"authorization refused: {query['error']}: {query.get('error_description', '')}")
    return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))


def oauth_client(url: str, user: str) -> tuple[OAuthClientProvider, HeadlessBrowser]:
    browser = HeadlessBrowser(user)
    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="capstan e2e (MCP Python SDK)",
            redirect_uris=[REDIRECT_URI],
        ),
        storage=MemoryStorage(),
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
    )
    return provider, browser


async def refused(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    """The refusal's text, or raises when the call succeeded."""
    try:
        result = await client.call_tool(tool, arguments)
    except Exception as error:  # noqa: BLE001 - a protocol error is a refusal too
        return f"error: {error}"
    if not result.is_error:
        raise AssertionError(f"{tool} should have been refused but succeeded: {result.content}")
    return " ".join(getattr(part, "text", "") for part in result.content)


async def check(url: str, user: str, expect: dict[str, Any], mode: str) -> str:
    auth, browser = oauth_client(url, user)
    async with httpx2.AsyncClient(auth=auth, timeout=httpx2.Timeout(30, read=300)) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
            for tool in expect.get("listed", []):
                assert tool in names, f"{tool} is not listed for {user}: {names}"
            for tool in expect.get("absent", []):
                assert tool not in names, f"{tool} is listed for {user} but should not be: {names}"
            for tool, arguments in expect.get("succeed", {}).items():
                result = await client.call_tool(tool, arguments)
                assert not result.is_error, f"{tool} failed for {user}: {result.content}"
            reasons = [await refused(client, tool, arguments) for tool, arguments in expect.get("refused", {}).items()]
    token = auth.context.current_tokens
    assert token is not None and browser.result is not None, "no authorization happened"
    assert any(path.startswith("/interaction/") for path in browser.visited), browser.visited
    client_id = auth.context.client_info.client_id if auth.context.client_info else "?"
    return (
        f"ok python-oauth mode={mode} user={user}: 401 → metadata → registered {client_id} → "
        f"code + PKCE → token (scope {token.scope!r}); {len(names)} tools listed; "
        f"{len(expect.get('succeed', {}))} calls succeeded, {len(reasons)} refused"
    )


async def main(url: str, user: str, expect: dict[str, Any]) -> int:
    failed = False
    for mode in MODES:
        try:
            print(await check(url, user, expect, mode), flush=True)
        except Exception as error:  # noqa: BLE001 - report every failure with its mode
            failed = True
            print(f"FAILED python-oauth mode={mode} user={user}: {error!r}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))))
