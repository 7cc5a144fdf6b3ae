"""Hypothesis over every JSON endpoint with hostile values (docs/security.md W-JSON, W-ERR).

Each generated body is a valid request with one field replaced by raw JSON text: a non-finite
or out-of-range number, text with an unpaired surrogate, deep nesting, or any JSON value of the
wrong type. Hostile values must get 422 naming that field; nothing may get a 5xx. In process
(ASGI), no network.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from afterbeat.server.app import ServerSettings, create_app
from afterbeat.server.security import SecurityPolicy
from afterbeat.storage.store import Store
from serverkit import QuietPipeline, lifespan

pytestmark = pytest.mark.asyncio(loop_scope="module")

PORT = 8765
TOKEN = "fuzz-token"
HEADERS = {"X-Afterbeat-Token": TOKEN, "Content-Type": "application/json"}
EXAMPLES = int(os.environ.get("AFTERBEAT_FUZZ_EXAMPLES", "60"))
"""Examples per endpoint field and strategy (nightly: 500)."""

PLACE = "@@VALUE@@"
TARGETS: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/api/markers", {"kind": "rating", "value": PLACE}, "value"),
    ("POST", "/api/markers", {"kind": "note", "text": PLACE}, "text"),
    ("POST", "/api/resets/start", {"reset_id": "resonance", "breaths_per_min": PLACE},
     "breaths_per_min"),
    ("PUT", "/api/resets/pace", {"breaths_per_min": PLACE}, "breaths_per_min"),
    ("POST", "/api/resets/rate", {"rating": PLACE, "when": "before"}, "rating"),
    ("POST", "/api/resets/stop", {"finished": PLACE}, "finished"),
    ("PUT", "/api/settings", {"breaths_per_min": PLACE}, "breaths_per_min"),
    ("PUT", "/api/settings", {"locale": PLACE}, "locale"),
    ("PUT", "/api/plan", {"coping_text": PLACE}, "coping_text"),
]

NON_FINITE = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E400",
                              "-2.5e308", "1e309"])
SURROGATE_TEXT = st.builds(
    lambda before, code, after: json.dumps(before)[:-1] + f"\\u{code:04x}" + after + '"',
    st.text(max_size=12), st.integers(0xD800, 0xDFFF),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E,
                                   exclude_characters='"\\'), max_size=12))
DEEP = st.integers(33, 3000).map(lambda depth: "[" * depth + "]" * depth)
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) |
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12).map(json.dumps)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[httpx.AsyncClient]:
    store = Store.open(Path(tmp_path_factory.mktemp("fuzz")))
    app = create_app(ServerSettings(port=PORT), None, store,
                     policy=SecurityPolicy(port=PORT, token=TOKEN), pipeline=QuietPipeline())
    try:
        async with lifespan(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=f"http://127.0.0.1:{PORT}",
                timeout=30) as http:
            yield http
    finally:
        store.close()


def _body(template: dict[str, Any], raw: str) -> bytes:
    return json.dumps(template).replace(json.dumps(PLACE), raw).encode("utf-8")


async def _send(client: httpx.AsyncClient, method: str, path: str, body: bytes
                ) -> httpx.Response:
    return await client.request(method, path, content=body, headers=HEADERS)


_SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])


@pytest.mark.parametrize(("method", "path", "template", "field"), TARGETS)
@_SETTINGS
@given(raw=st.one_of(NON_FINITE, SURROGATE_TEXT))
async def test_hostile_values_get_422_naming_the_field(
        client: httpx.AsyncClient, method: str, path: str, template: dict[str, Any],
        field: str, raw: str) -> None:
    response = await _send(client, method, path, _body(template, raw))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]


@pytest.mark.parametrize(("method", "path", "template", "field"), TARGETS)
@_SETTINGS
@given(raw=st.one_of(DEEP, ANY_JSON))
async def test_any_value_of_any_shape_never_gets_a_5xx(
        client: httpx.AsyncClient, method: str, path: str, template: dict[str, Any],
        field: str, raw: str) -> None:
    response = await _send(client, method, path, _body(template, raw))
    assert response.status_code < 500, response.text
    if raw.startswith("[" * 33):
        assert response.status_code == 422
    # Leave no reset running, so the next example starts from the same place.
    await _send(client, "POST", "/api/resets/stop", b"{}")
