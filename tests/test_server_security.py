"""The security layer over a real uvicorn socket on 127.0.0.1 (docs/security.md, W-* and D-*)."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import pytest_asyncio

from afterbeat.server.security import CONTENT_SECURITY_POLICY, LaunchTickets, SecurityPolicy
from serverkit import QuietPipeline, Running, no_egress, raw_request, running_server

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.usefixtures("no_egress")]
__all__ = ["no_egress"]  # the fixture, imported so pytest finds it here


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def srv(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    """One server for the whole module (tests here do not depend on each other's state)."""
    async with running_server(tmp_path_factory.mktemp("srv"), pipeline=QuietPipeline()
                              ) as running:
        yield running


async def test_egress_guard_blocks_outside_addresses() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with sock, pytest.raises(AssertionError, match="non-loopback"):
        sock.connect(("192.0.2.1", 80))


@pytest.mark.parametrize("host", [
    "evil.example:{port}", "127.0.0.1.nip.io", "127.0.0.1.nip.io:{port}", "",
    "user@localhost:{port}", "foo.localhost", "foo.localhost:{port}", "192.168.1.5:{port}",
    "127.0.0.1:{port}/admin?", "localhost.:{port}", "127.0.0.1:1{port}", "0.0.0.0:{port}",
])
async def test_bad_host_is_refused(srv: Running, host: str) -> None:
    status, data = await raw_request(
        srv.port, f"GET /api/status HTTP/1.1\nHost: {host.format(port=srv.port)}\n"
        f"X-Afterbeat-Token: {srv.token}\nConnection: close\n\n")
    assert status == 400, data[:200]


async def test_forwarded_host_is_not_trusted(srv: Running) -> None:
    status, _ = await raw_request(
        srv.port, f"GET /api/status HTTP/1.1\nHost: evil.example\nX-Forwarded-Host: "
        f"127.0.0.1:{srv.port}\nX-Forwarded-For: 127.0.0.1\nX-Afterbeat-Token: {srv.token}\n"
        "Connection: close\n\n")
    assert status == 400


async def test_missing_or_double_host_is_refused(srv: Running) -> None:
    status, _ = await raw_request(srv.port, "GET / HTTP/1.0\n\n")
    assert status == 400
    status, _ = await raw_request(
        srv.port, f"GET / HTTP/1.1\nHost: 127.0.0.1:{srv.port}\nHost: evil.example\n"
        "Connection: close\n\n")
    assert status == 400


@pytest.mark.parametrize("host", ["LOCALHOST:{port}", "localhost", "127.0.0.1:{port}",
                                  "[::1]:{port}", "[::1]"])
async def test_allowed_hosts_any_case(srv: Running, host: str) -> None:
    status, _ = await raw_request(
        srv.port, f"GET /api/status HTTP/1.1\nHost: {host.format(port=srv.port)}\n"
        f"X-Afterbeat-Token: {srv.token}\nConnection: close\n\n")
    assert status == 200


async def test_token_is_required_on_api(srv: Running) -> None:
    old = SecurityPolicy.for_launch(srv.port).token
    async with srv.client() as client:
        assert (await client.get("/api/status")).status_code == 401
        assert (await client.get("/api/status",
                                 headers={"X-Afterbeat-Token": old})).status_code == 401
        assert (await client.get("/api/live",
                                 headers={"X-Afterbeat-Token": "x"})).status_code == 401
        assert (await client.get("/api/sessions", headers={
            "Cookie": f"afterbeat-{srv.port}={old}"})).status_code == 401
        response = await client.get("/api/status", headers=srv.auth)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1",
                                    "https://127.0.0.1:{port}", "http://localhost.evil:{port}"])
async def test_bad_origin_is_refused(srv: Running, origin: str) -> None:
    headers = {**srv.auth, "Origin": origin.format(port=srv.port)}
    before = srv.state.hub.last_seq
    async with srv.client() as client:
        write = await client.post("/api/markers", json={"kind": "session_end"}, headers=headers)
        assert write.status_code == 403
        assert "access-control-allow-origin" not in write.headers
        live = await client.get("/api/live", headers=headers)
        assert live.status_code == 403
        read = await client.get("/api/status", headers=headers)
        assert read.status_code == 403
    assert srv.state.hub.last_seq == before  # nothing reached the handlers


async def test_cross_site_fetch_metadata_is_refused(srv: Running) -> None:
    async with srv.client() as client:
        response = await client.get("/api/status",
                                    headers={**srv.auth, "Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403


async def test_writes_need_json(srv: Running) -> None:
    before = srv.state.hub.last_seq
    async with srv.client() as client:
        form = await client.post("/api/markers", data={"kind": "note", "text": "x"},
                                 headers=srv.auth)
        assert form.status_code == 415
        text = await client.post("/api/markers", content=b'{"kind": "session_end"}',
                                 headers={**srv.auth, "Content-Type": "text/plain"})
        assert text.status_code == 415
        ok = await client.post("/api/markers", json={"kind": "session_end"}, headers=srv.auth)
        assert ok.status_code == 201
    assert srv.state.hub.last_seq == before + 1


async def test_a_cookie_never_authorizes(srv: Running) -> None:
    # Cookies are not port-scoped: a page on any other local port would receive one.
    cookie = {f"afterbeat-{srv.port}": srv.token, "afterbeat": srv.token}
    async with srv.client(cookies=cookie) as client:
        read = await client.get("/api/status")
        assert read.status_code == 401
        write = await client.post("/api/markers", json={"kind": "session_end"},
                                  headers={"Origin": f"http://localhost:{srv.port}"})
        assert write.status_code == 401


async def test_oversized_body_is_refused(srv: Running) -> None:
    before = srv.state.hub.last_seq
    big = b'{"kind": "note", "text": "' + b"a" * (2 << 20) + b'"}'
    async with srv.client() as client:
        response = await client.post("/api/markers", content=big,
                                     headers={**srv.auth, "Content-Type": "application/json"})
        assert response.status_code == 413

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(40):
                yield b"a" * 65536

        chunked = await client.post("/api/markers", content=chunks(),
                                    headers={**srv.auth, "Content-Type": "application/json"})
        assert chunked.status_code == 413
    assert srv.state.hub.last_seq == before


async def test_launch_ticket_is_exchanged_once_for_the_token(srv: Running) -> None:
    ticket = srv.tickets.issue()
    origin = {"Origin": f"http://127.0.0.1:{srv.port}"}
    async with srv.client() as client:
        first = await client.post("/api/session", json={"ticket": ticket}, headers=origin)
        assert first.status_code == 200
        assert first.json() == {"signed_in": True, "token": srv.token}
        assert first.headers["cache-control"] == "no-store"
        assert "set-cookie" not in first.headers
        again = await client.post("/api/session", json={"ticket": ticket}, headers=origin)
        assert again.status_code == 200
        assert again.json() == {"signed_in": False, "reason": "used_or_expired"}
        wrong = await client.post("/api/session", json={"ticket": "guess"}, headers=origin)
        assert wrong.json()["signed_in"] is False
        assert "token" not in wrong.json()


async def test_ticket_exchange_is_as_strict_as_every_api_call(srv: Running) -> None:
    ticket = srv.tickets.issue()
    async with srv.client() as client:
        foreign = await client.post("/api/session", json={"ticket": ticket},
                                    headers={"Origin": "http://127.0.0.1:1"})
        assert foreign.status_code == 403
        same_site = await client.post("/api/session", json={"ticket": ticket},
                                      headers={"Sec-Fetch-Site": "same-site"})
        assert same_site.status_code == 403
        form = await client.post("/api/session", data={"ticket": ticket})
        assert form.status_code == 415
        bad_host = await client.post("/api/session", json={"ticket": ticket},
                                     headers={"Host": "evil.example"})
        assert bad_host.status_code == 400
        # None of these used the ticket up.
        ok = await client.post("/api/session", json={"ticket": ticket})
        assert ok.json()["signed_in"] is True


async def test_head_or_get_of_a_launch_link_never_uses_the_ticket(srv: Running) -> None:
    ticket = srv.tickets.issue()
    async with srv.client() as client:
        for method in ("HEAD", "GET"):
            probe = await client.request(method, f"/?launch={ticket}")
            assert probe.status_code == 200
            assert "set-cookie" not in probe.headers
        assert (await client.head("/api/session")).status_code == 200
        redeemed = await client.post("/api/session", json={"ticket": ticket})
        assert redeemed.json()["signed_in"] is True


async def test_session_check_answers_quietly(srv: Running) -> None:
    async with srv.client() as client:
        out = await client.get("/api/session")
        assert (out.status_code, out.json()) == (200, {"signed_in": False})
        wrong = await client.get("/api/session", headers={"X-Afterbeat-Token": "nope"})
        assert (wrong.status_code, wrong.json()) == (200, {"signed_in": False})
        inside = await client.get("/api/session", headers=srv.auth)
        assert (inside.status_code, inside.json()) == (200, {"signed_in": True})
        assert (await client.put("/api/session", json={})).status_code == 405


async def test_plain_address_serves_a_page_that_says_how_to_get_in(srv: Running) -> None:
    async with srv.client() as client:
        page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "afterbeat open" in page.text and 'id="signin"' in page.text


async def test_launch_tickets_expire() -> None:
    now = [0.0]
    tickets = LaunchTickets(ttl_s=10, clock=lambda: now[0])
    early, late = tickets.issue(), tickets.issue()
    assert tickets.redeem(early)
    now[0] = 11.0
    assert not tickets.redeem(late)
    assert not tickets.redeem(early)


async def test_api_can_mint_a_launch_link(srv: Running) -> None:
    async with srv.client() as client:
        minted = await client.post("/api/launch", json={}, headers=srv.auth)
        assert minted.status_code == 201
        url = minted.json()["url"]
        assert srv.token not in url
        assert url.startswith(f"{srv.base}/#launch=")
        ticket = url.split("#launch=", 1)[1]
        followed = await client.post("/api/session", json={"ticket": ticket})
        assert followed.json()["signed_in"] is True


async def test_security_headers_everywhere(srv: Running) -> None:
    async with srv.client() as client:
        for path, headers in (("/", {}), ("/api/status", srv.auth), ("/nope", {}),
                              ("/openapi.json", {})):
            response = await client.get(path, headers=headers)
            assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert "server" not in response.headers
        api = await client.get("/api/status", headers=srv.auth)
        assert api.headers["cache-control"] == "no-store"
        page = await client.get("/")
        assert page.status_code == 200 and "<script" in page.text
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) is None, "inline script"
        assert (await client.get("/docs")).status_code == 404  # no CDN-backed docs page


async def test_websocket_upgrade_is_refused(srv: Running) -> None:
    status, _ = await raw_request(
        srv.port, f"GET /api/live HTTP/1.1\nHost: 127.0.0.1:{srv.port}\nUpgrade: websocket\n"
        "Connection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n"
        "Sec-WebSocket-Version: 13\n\n")
    assert status != 101


async def test_listens_only_on_loopback(srv: Running) -> None:
    listening = [c for c in psutil.Process().net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == srv.port]
    assert listening
    assert all(c.laddr.ip in ("127.0.0.1", "::1") for c in listening)


async def test_path_traversal_gets_no_file(srv: Running) -> None:
    async with srv.client() as client:
        for path in ("/..%2F..%2Fetc%2Fpasswd", "/api/sessions/..%2F..%2Fetc%2Fpasswd",
                     "/%2e%2e/%2e%2e/etc/passwd"):
            response = await client.get(path, headers=srv.auth)
            assert response.status_code in (404, 422)
            assert b"root:" not in response.content


async def test_logs_hold_no_token_and_no_health_values(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from serverkit import QueueSource, demo_records

    caplog.set_level(logging.DEBUG)
    _, records = demo_records(limit_s=90.0)
    source = QueueSource()
    async with running_server(tmp_path, source, log_level="debug") as srv:
        source.feed(records)
        async with srv.client() as client:
            ticket = srv.tickets.issue()
            await client.post("/api/session", json={"ticket": ticket})
            await client.get("/api/status")
            await client.post("/api/markers", json={"kind": "note", "text": "hr 99 bpm"},
                              headers=srv.auth)
            await client.get("/api/status", headers={"X-Afterbeat-Token": "wrong"})
            await client.get("/api/status", headers={"Host": "evil.example"})
            for _ in range(100):
                if srv.state.status.records >= len(records) + 1:
                    break
                await asyncio.sleep(0.02)
    assert srv.state.status.records >= len(records)
    server_side = [r for r in caplog.records  # the test's own httpx client logs headers
                   if r.name.split(".")[0] in ("afterbeat", "uvicorn", "fastapi", "starlette")]
    assert server_side, "expected some server-side log records at DEBUG"
    text = "\n".join(r.getMessage() for r in server_side)
    assert srv.token not in text
    assert ticket not in text
    health = re.compile(r"\b(hr|rr|bpm)\W*\d", re.IGNORECASE)
    loud = [r.getMessage() for r in server_side if r.levelno >= logging.INFO]
    assert not [m for m in loud if health.search(m)]


async def test_lan_policy_allows_only_the_named_host() -> None:
    import httpx

    from afterbeat.server.security import SecurityMiddleware

    async def ok(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    policy = SecurityPolicy(port=9000, token="t", lan_host="Box.Home")
    app = SecurityMiddleware(ok, policy)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://box.home:9000") as client:
        auth = {"X-Afterbeat-Token": "t"}
        assert (await client.get("/api/status", headers=auth)).status_code == 200
        assert (await client.post("/api/markers", json={}, headers={
            **auth, "Origin": "http://box.home:9000"})).status_code == 200
        assert (await client.get("/api/status", headers={
            **auth, "Host": "other.home:9000"})).status_code == 400
        assert (await client.get("/api/status")).status_code == 401  # the token stays required
        assert (await client.post("/api/markers", json={}, headers={
            **auth, "Origin": "http://other.home:9000"})).status_code == 403


# -- hostile JSON bodies: 422 naming the field, never a 500, never the text in a log ----------

_NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"]
_BODIES = [
    ("POST", "/api/markers", '{{"kind": "rating", "value": {v}}}', ["value"]),
    ("POST", "/api/resets/start", '{{"reset_id": "resonance", "breaths_per_min": {v}}}',
     ["breaths_per_min"]),
    ("PUT", "/api/resets/pace", '{{"breaths_per_min": {v}}}', ["breaths_per_min"]),
    ("POST", "/api/resets/rate", '{{"rating": {v}, "when": "before"}}', ["rating"]),
    ("PUT", "/api/settings", '{{"breaths_per_min": {v}}}', ["breaths_per_min"]),
    ("PUT", "/api/plan", '{{"steps": [{{"x": {v}}}]}}', ["steps", 0, "x"]),
]


@pytest.mark.parametrize("value", _NON_FINITE)
@pytest.mark.parametrize(("method", "path", "template", "field"), _BODIES)
async def test_non_finite_numbers_get_422_naming_the_field(
        srv: Running, method: str, path: str, template: str, field: list[str | int],
        value: str) -> None:
    before = srv.state.hub.last_seq
    async with srv.client() as client:
        response = await client.request(
            method, path, content=template.format(v=value).encode(),
            headers={**srv.auth, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["body", *field]
    assert "finite" in detail[0]["msg"]
    assert srv.state.hub.last_seq == before


async def test_private_text_never_reaches_the_log(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "my private note about mum"
    async with running_server(tmp_path, pipeline=QuietPipeline(), log_level="debug") as srv:
        async with srv.client() as client:
            for body in ('{"kind": "note", "text": "\\ud800 ' + secret + '"}',
                         '{"kind": "note", "text": "' + secret + '", "value": NaN}',
                         '{"kind": "note", "text": "' + secret + '\\udfff"}'):
                response = await client.post(
                    "/api/markers", content=body.encode(),
                    headers={**srv.auth, "Content-Type": "application/json"})
                assert response.status_code == 422, response.text
                assert response.json()["detail"][0]["loc"][0] == "body"
            surrogate = await client.post(
                "/api/markers", content=b'{"kind": "note", "text": "\\ud800 x"}',
                headers={**srv.auth, "Content-Type": "application/json"})
            assert surrogate.json()["detail"][0]["loc"] == ["body", "text"]
            assert "surrogate" in surrogate.json()["detail"][0]["msg"]
            status = await client.get("/api/status", headers=srv.auth)
            assert status.status_code == 200  # the server is fine afterwards
    assert secret not in caplog.text
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 40 + b"1" +
                                  b"}" * 40, b"\xff\xfe{}", b'{"x": 1' + b"0" * 5000 + b"}"])
async def test_deep_odd_or_huge_json_gets_422(srv: Running, body: bytes) -> None:
    async with srv.client() as client:
        response = await client.post("/api/markers", content=body,
                                     headers={**srv.auth, "Content-Type": "application/json"})
    assert response.status_code == 422


async def test_an_escaping_error_is_logged_without_its_message(
        caplog: pytest.LogCaptureFixture) -> None:
    import httpx

    from afterbeat.server.security import SecurityMiddleware

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("the note said: private words")

    app = SecurityMiddleware(broken, SecurityPolicy(port=9000, token="t"))
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1:9000") as client:
        response = await client.post("/api/markers", json={"kind": "note"},
                                     headers={"X-Afterbeat-Token": "t"})
    assert response.status_code == 500
    assert "private words" not in response.text
    assert "private words" not in caplog.text
    assert "ValueError" in caplog.text  # the type and the place are logged


# -- refusals carry the same protective headers; only UTF-8 JSON; IPv6 loopback origin -------

async def test_refused_responses_carry_csp_nosniff_and_no_store(srv: Running) -> None:
    big = b'{"text": "' + b"a" * (2 << 20) + b'"}'
    async with srv.client() as client:
        refusals = [
            await client.get("/api/status", headers={"Host": "evil.example"}),
            await client.get("/api/status"),
            await client.get("/api/status", headers={**srv.auth, "Origin": "http://x"}),
            await client.post("/api/markers", content=big,
                              headers={**srv.auth, "Content-Type": "application/json"}),
            await client.post("/api/markers", content=b"{}",
                              headers={**srv.auth, "Content-Type": "text/plain"}),
        ]
    assert [r.status_code for r in refusals] == [400, 401, 403, 413, 415]
    for response in refusals:
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-16",
                                          "application/json; charset=utf-32le",
                                          "application/json; boundary=x"])
async def test_json_in_another_charset_is_refused(srv: Running, content_type: str) -> None:
    body = '{"kind": "session_end"}'.encode("utf-16")
    async with srv.client() as client:
        response = await client.post("/api/markers", content=body,
                                     headers={**srv.auth, "Content-Type": content_type})
    assert response.status_code == 415


async def test_utf8_charset_is_accepted(srv: Running) -> None:
    async with srv.client() as client:
        response = await client.post(
            "/api/markers", content=b'{"kind": "session_end"}',
            headers={**srv.auth, "Content-Type": "application/json; charset=UTF-8"})
    assert response.status_code == 201


async def test_ipv6_loopback_origin_is_allowed(srv: Running) -> None:
    async with srv.client() as client:
        response = await client.post("/api/markers", json={"kind": "session_end"}, headers={
            **srv.auth, "Origin": f"http://[::1]:{srv.port}", "Host": f"[::1]:{srv.port}"})
    assert response.status_code == 201


async def test_ipv6_bind_gives_an_ipv6_link() -> None:
    policy = SecurityPolicy.for_launch(8765, bind_host="::1")
    assert policy.base_url == "http://[::1]:8765"
    assert policy.launch_url("abc") == "http://[::1]:8765/#launch=abc"
    assert SecurityPolicy.for_launch(8765).base_url == "http://127.0.0.1:8765"
