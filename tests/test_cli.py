"""The command-line dispatcher: every command listed, only the chosen one loaded."""

from __future__ import annotations

import subprocess
import sys

import pytest

from afterbeat.cli import COMMANDS, build_parser, main


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_module_registers_the_listed_summary(name: str) -> None:
    """Loaded in full, the command's module lists itself with the summary the help shows."""
    shown = " ".join(build_parser(only=name).format_help().split())
    assert " ".join(COMMANDS[name].split()) in shown


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)
    assert "not a medical device" in out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["frobnicate"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_full_parser_builds_every_command() -> None:
    parser = build_parser()
    assert parser.parse_args(["decode", "0400"]).command == "decode"


def test_decode_loads_neither_scipy_nor_the_web_server() -> None:
    code = (
        "import sys\n"
        "from afterbeat.cli import main\n"
        "main(['decode', '0400'])\n"
        "heavy = [m for m in ('scipy', 'fastapi', 'bleak') if m in sys.modules]\n"
        "print('heavy:', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert "heavy: []" in result.stdout
