"""Static checks of the page's files in web/: CSP-safe, self-contained, text-only, wellness words.

The browser tests show the page working; these pin the rules that keep it safe to change:
no inline scripts or handlers (CSP ``script-src 'self'``), no outside URLs (no CDNs, fonts or
analytics), no HTML built from strings (user text goes in as text), and no clinical words.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[1] / "web"
JS_FILES = sorted((WEB / "js").glob("*.js"))
TEXT_FILES = sorted([WEB / "index.html", WEB / "style.css", *JS_FILES])
CLINICAL = re.compile(
    r"diagnos|clinical|disorder|ptsd|panic attack|\btreat|\bcure|\balarm|danger"
    r"|abnormal|patient|symptom", re.IGNORECASE)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[str] = []
        self.urls: list[str] = []
        self.inline_script_text = ""
        self._in_script = False
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            self.scripts.append(named)
            self._in_script = True
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}>")
            if name in ("src", "href", "action", "formaction") and value:
                self.urls.append(value)
            if name == "id" and value:
                self.ids.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_script_text += data.strip()


@pytest.fixture(scope="module")
def page() -> _Collector:
    collector = _Collector()
    collector.feed((WEB / "index.html").read_text(encoding="utf-8"))
    return collector


def test_only_module_scripts_from_the_server_and_no_inline_code(page: _Collector) -> None:
    assert page.scripts, "the page loads its script"
    for script in page.scripts:
        assert script.get("type") == "module"
        src = script.get("src") or ""
        assert src and "//" not in src and not src.startswith("data:"), script
    assert page.inline_script_text == ""
    assert page.handlers == []
    assert "style=" not in (WEB / "index.html").read_text(encoding="utf-8")


def test_no_outside_urls_anywhere(page: _Collector) -> None:
    for url in page.urls:
        assert not re.match(r"^[a-z][a-z0-9+.-]*:", url, re.IGNORECASE) or url.startswith("#"), url
        assert not url.startswith("//"), url
    for path in TEXT_FILES:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://|wss?://|//[a-z0-9.-]+\.[a-z]{2,}/", text), path.name
        assert "@import" not in text and "@font-face" not in text, path.name


def test_scripts_never_build_html_from_strings() -> None:
    risky = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|"
                       r"new Function|setTimeout\(\s*['\"`]|setInterval\(\s*['\"`]")
    for path in JS_FILES:
        hits = [line for line in path.read_text(encoding="utf-8").splitlines()
                if risky.search(line) and not line.lstrip().startswith("//")]
        assert hits == [], (path.name, hits)


def test_every_getelementbyid_in_the_scripts_exists_in_the_page(page: _Collector) -> None:
    wanted = set()
    for path in JS_FILES:
        wanted |= set(re.findall(r"byId\('([\w-]+)'\)", path.read_text(encoding="utf-8")))
    assert wanted, "the scripts look elements up by id"
    assert sorted(wanted - set(page.ids)) == []
    assert len(page.ids) == len(set(page.ids)), "ids are unique"


def test_relative_imports_resolve() -> None:
    for path in JS_FILES:
        for target in re.findall(r"from '(\./[\w-]+\.js)'", path.read_text(encoding="utf-8")):
            assert (path.parent / target).is_file(), (path.name, target)


def test_wellness_words_only() -> None:
    for path in TEXT_FILES:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not CLINICAL.search(line), f"{path.name}:{number}: {line.strip()}"


def test_not_a_medical_device_line_and_support_link_are_on_every_view() -> None:
    html = (WEB / "index.html").read_text(encoding="utf-8")
    footer = html[html.index("<footer"):html.index("</footer>")]
    assert "not a medical device" in footer
    assert 'href="#/support"' in footer
