"""Print a self-contained HTML page to PDF with a locally installed Chromium (no network)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from afterbeat.errors import AfterbeatError
from afterbeat.paths import write_private_file

__all__ = ["ENV_CHROMIUM", "PdfUnavailable", "find_chromium", "html_to_pdf"]

ENV_CHROMIUM = "AFTERBEAT_CHROMIUM"
"""Environment variable naming the Chromium (or Chrome) executable to print with."""

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class PdfUnavailable(AfterbeatError, RuntimeError):
    """No Chromium to print with, or printing failed; the HTML file is still there to print."""


def find_chromium() -> str | None:
    """The Chromium executable to use: $AFTERBEAT_CHROMIUM, else the first one on PATH."""
    named = os.environ.get(ENV_CHROMIUM)
    if named:
        return named if Path(named).is_file() else None
    return next((found for name in _CANDIDATES if (found := shutil.which(name))), None)


def html_to_pdf(html_text: str, target: Path, *, timeout_s: float = 120.0) -> Path:
    """Print ``html_text`` to ``target`` (0600) with headless Chromium, offline."""
    chromium = find_chromium()
    if chromium is None:
        raise PdfUnavailable(
            "no Chromium found to make the PDF (install Debian's 'chromium' package or set "
            f"{ENV_CHROMIUM}); open the HTML file in a browser and print it to PDF instead")
    with tempfile.TemporaryDirectory(prefix="afterbeat-pdf-") as tmp:
        page = write_private_file(Path(tmp) / "page.html", html_text.encode("utf-8"))
        out = Path(tmp) / "page.pdf"
        command = [
            chromium, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", "--no-pdf-header-footer", f"--user-data-dir={tmp}/profile",
            f"--print-to-pdf={out}", page.as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        try:
            subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PdfUnavailable(f"Chromium could not print the PDF ({exc})") from exc
        if not out.is_file() or out.stat().st_size == 0:
            raise PdfUnavailable("Chromium did not write a PDF; open the HTML file in a browser "
                                 "and print it to PDF instead")
        return write_private_file(target, out.read_bytes())
