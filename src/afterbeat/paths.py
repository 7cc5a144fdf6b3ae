"""Where a person's data lives: one private directory, created 0700."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from afterbeat.errors import DataDirError

__all__ = [
    "ENV_DATA_DIR",
    "default_data_dir",
    "ensure_private_dir",
    "resolve_data_dir",
    "write_private_file",
]

ENV_DATA_DIR = "AFTERBEAT_DATA_DIR"


def default_data_dir() -> Path:
    """The platform's per-user data directory for afterbeat."""
    return Path(platformdirs.user_data_dir("afterbeat", appauthor=False))


def resolve_data_dir(
    explicit: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Path:
    """Pick the data directory: ``--data-dir``, then AFTERBEAT_DATA_DIR, then the default."""
    if explicit is not None:
        return Path(explicit).expanduser()
    from_env = environ.get(ENV_DATA_DIR)
    if from_env:
        return Path(from_env).expanduser()
    return default_data_dir()


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make sure only its owner can enter it."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(0o700)
    except OSError as exc:
        raise DataDirError(
            f"cannot prepare the data directory {path}: {exc.strerror or exc}; "
            f"choose another with --data-dir or {ENV_DATA_DIR}"
        ) from exc
    return path


def write_private_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` readable by its owner only (0600 whatever the umask)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    except OSError as exc:
        raise DataDirError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
