"""``afterbeat baseline``: guided rest through the pipeline into the store; show and reset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from afterbeat.activation.baseline import BASELINE_DOCUMENT_KEY, Baseline
from afterbeat.cli import main
from afterbeat.cli.baseline import guided_rest, load_baseline
from afterbeat.sources.replay import ReplaySource
from afterbeat.storage.store import Store


def _rest_file(tmp_path: Path, data_dir: Path, start: int, n: int) -> Path:
    rr = np.loadtxt(data_dir / "polar-hrm" / "rest_rri.txt")[start:start + n]
    path = tmp_path / f"rest{start}.txt"
    path.write_text("\n".join(f"{v:.0f}" for v in rr) + "\n")
    return path


async def test_guided_rest_adds_to_the_stored_baseline(tmp_path: Path, data_dir: Path) -> None:
    progress: list[float] = []
    first = await guided_rest(ReplaySource(_rest_file(tmp_path, data_dir, 0, 330), speed=None),
                              None, duration_s=300.0, on_progress=progress.append)
    assert first.ok and first.baseline is not None
    assert first.baseline["recording_count"] == 1 and first.baseline["provisional"]
    assert progress and progress[0] == pytest.approx(300.0, abs=2.0)
    base = Baseline.from_json(first.baseline)
    second = await guided_rest(ReplaySource(_rest_file(tmp_path, data_dir, 400, 330),
                                            speed=None), base, duration_s=300.0)
    assert second.ok and second.baseline is not None
    assert second.baseline["recording_count"] == 2


async def test_guided_rest_too_short_is_not_saved(tmp_path: Path, data_dir: Path) -> None:
    out = await guided_rest(ReplaySource(_rest_file(tmp_path, data_dir, 0, 100), speed=None),
                            None, duration_s=300.0)
    assert not out.ok and out.baseline is None and "rest a little longer" in out.reason


async def test_show_and_reset(tmp_path: Path, data_dir: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert main(["baseline", "--show", "--data-dir", str(data)]) == 0
    assert "No baseline yet" in capsys.readouterr().out
    rest = await guided_rest(ReplaySource(_rest_file(tmp_path, data_dir, 0, 330), speed=None),
                             None, duration_s=300.0)
    store = Store.open(data)
    try:
        assert rest.baseline is not None
        store.put_document(BASELINE_DOCUMENT_KEY, rest.baseline)
        loaded = load_baseline(store)
        assert loaded is not None and loaded.provisional
    finally:
        store.close()
    assert main(["baseline", "--show", "--data-dir", str(data)]) == 0
    shown = capsys.readouterr().out
    assert "Resting heart rate about" in shown and "still being learned (1 of 3" in shown
    assert main(["baseline", "--reset", "--data-dir", str(data)]) == 0
    assert "erased" in capsys.readouterr().out
    store = Store.open(data)
    try:
        assert store.get_document(BASELINE_DOCUMENT_KEY) is None
    finally:
        store.close()
