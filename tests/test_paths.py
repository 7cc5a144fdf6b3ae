"""The data directory: platform default, --data-dir and AFTERBEAT_DATA_DIR, created private."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from afterbeat.errors import DataDirError
from afterbeat.paths import ENV_DATA_DIR, default_data_dir, ensure_private_dir, resolve_data_dir


def test_explicit_beats_environment_beats_default(tmp_path: Path) -> None:
    env = {ENV_DATA_DIR: str(tmp_path / "env")}
    assert resolve_data_dir(tmp_path / "cli", env) == tmp_path / "cli"
    assert resolve_data_dir(None, env) == tmp_path / "env"
    assert resolve_data_dir(None, {}) == default_data_dir()
    assert "afterbeat" in str(default_data_dir())


def test_created_0700_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = ensure_private_dir(tmp_path / "a" / "b")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_an_existing_open_directory_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "open"
    path.mkdir(mode=0o755)
    path.chmod(0o755)
    ensure_private_dir(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_an_unusable_path_is_a_typed_error_with_advice(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(DataDirError, match="--data-dir"):
        ensure_private_dir(blocker / "sub")
