"""``afterbeat decode``: the fields of one payload, for people holding an nRF Connect log."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from afterbeat.cli import main


@pytest.mark.parametrize(
    "argv",
    [["16", "4d", "16", "03"], ["16:4D:16:03"], ["164d1603"], ["0x164D1603"], ["16-4d-16-03"]],
)
def test_decode_accepts_common_hex_spellings(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["decode", "--json", *argv]) == 0
    fields = json.loads(capsys.readouterr().out)
    assert fields["heart_rate_bpm"] == 77
    assert fields["rr_raw_1024"] == [790]
    assert fields["rr_ms"] == [771.484]
    assert fields["sensor_contact"] == "detected"


def test_decode_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "1f 2c 01 05 00 c8 00"]) == 0
    out = capsys.readouterr().out
    assert "heart_rate_bpm      300" in out
    assert "energy_expended_kj  5" in out
    assert "heart_rate_format   uint16" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["10", "46", "00"], "odd RR byte count"),
        (["1"], "odd number of hex digits"),
        (["zz"], "not hexadecimal"),
    ],
)
def test_decode_malformed_exits_2_with_the_reason(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["decode", *argv]) == 2
    assert message in capsys.readouterr().err


def test_python_dash_m_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "afterbeat", "decode", "--json", "0400"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout)["sensor_contact"] == "not_detected"
