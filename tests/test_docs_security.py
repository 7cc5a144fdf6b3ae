"""docs/security.md stays true: every test it names exists, every ID the code cites is defined."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "security.md"
ROW = re.compile(r"^\| ([WDA]-[A-Z0-9]+) \|", re.MULTILINE)
CITED = re.compile(r"\b([WDA]-[A-Z]{2,}[A-Z0-9]*)\b")
FOREIGN = re.compile(r"\b(NET|STREAM|DATA|SAFE|FUZZ|LOAD)-\d+\b")
SCANNED = ("src", "tests", "bench", "scripts", "research", "web")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test_")}


def _references() -> list[tuple[str, str]]:
    """(file, test name) for every reference; ``::name`` continues the row's last file."""
    out: list[tuple[str, str]] = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        current: str | None = None
        for match in re.finditer(r"`(tests/[\w/]+\.py)?::(test_\w+)`|`(tests/[\w/]+\.py)`", line):
            if match.group(3):
                current = match.group(3)
                continue
            current = match.group(1) or current
            assert current is not None, f"a '::{match.group(2)}' without a file: {line[:80]}"
            out.append((current, match.group(2)))
    return out


def test_every_named_test_exists() -> None:
    references = _references()
    assert len(references) > 40
    missing = [f"{file}::{name}" for file, name in references
               if not (ROOT / file).is_file() or name not in _test_names(ROOT / file)]
    assert missing == []


def test_every_protection_names_a_test() -> None:
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if ROW.match(line):
            assert "::test_" in line, f"no test for {line[:60]}"


def _sources() -> list[Path]:
    return [path for folder in SCANNED if (ROOT / folder).is_dir()
            for path in (ROOT / folder).rglob("*")
            if path.suffix in (".py", ".js", ".html", ".css") and path.is_file()]


def test_code_cites_only_ids_defined_in_the_repository() -> None:
    defined = set(ROW.findall(DOC.read_text(encoding="utf-8")))
    undefined: list[str] = []
    foreign: list[str] = []
    for path in _sources():
        text = path.read_text(encoding="utf-8", errors="replace")
        foreign += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in FOREIGN.finditer(text)]
        if "security.md" in text:
            undefined += [f"{path.relative_to(ROOT)}: {cid}" for cid in CITED.findall(text)
                          if cid not in defined]
    assert foreign == [], "IDs of a document outside the repository"
    assert undefined == []
