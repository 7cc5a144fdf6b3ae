"""The benchmarks measure afterbeat through its public API, and the store's still runs."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


def _private_reads(path: Path) -> list[str]:
    """``obj._name`` uses in a file, other than on ``self``, ``cls`` or ``super()``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") \
                or node.attr.startswith("__"):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) \
                and owner.func.id == "super":
            continue
        found.append(f"{path.name}:{node.lineno} .{node.attr}")
    return found


def test_benchmarks_read_no_private_state() -> None:
    found = [hit for path in sorted(BENCH.glob("*.py")) for hit in _private_reads(path)]
    assert found == []


def test_the_store_benchmark_runs(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")]),
           "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, str(BENCH / "bench_store.py"), "--appends", "20",
                           "--hours", "0.01"], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["store", "append,", "append,", "import",
                                                   "replay", "secure"]
    assert "synchronous=full" in lines[0]
