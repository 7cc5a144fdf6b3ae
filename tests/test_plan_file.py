"""The plan file made together: round trips, hand-written files, hostile files, the card."""

from __future__ import annotations

import json
import math
import re
import stat
from datetime import date
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from afterbeat.activation.settings import DEFAULT_SETTINGS
from afterbeat.cli import main
from afterbeat.resets.library import LIBRARY, RESONANCE_MAX_BREATHS_PER_MIN
from afterbeat.resets.plan import THRESHOLD_RANGES, Plan, PlanError, plan_from_json
from afterbeat.resets.plan_file import (
    MAX_PLAN_FILE_BYTES,
    parse_plan_text,
    plan_changes,
    plan_to_toml,
    render_plan_card,
)
from afterbeat.storage.store import Store

HAND_WRITTEN = b"""# written in a text editor
preferred = ["walk", "breathing"]
avoided = ["four_seven_eight"]
breaths_per_min = 5.5
coping_text = '''Put on the blue jumper.
Call Sam.'''
contact_text = "Ring the practice (Mon-Fri)."
locale = "en-GB"

[thresholds]
sustain_s = 300
"""


def test_a_hand_written_file_reads() -> None:
    plan = parse_plan_text(HAND_WRITTEN)
    assert plan.preferred == ("walk", "breathing")
    assert plan.avoided == ("four_seven_eight",)
    assert plan.breaths_per_min == 5.5
    assert plan.coping_text == "Put on the blue jumper.\nCall Sam."
    assert plan.thresholds == {"sustain_s": 300.0}
    assert plan.locale == "en-GB"


def test_json_is_read_too() -> None:
    plan = parse_plan_text(json.dumps({"preferred": ["walk"]}).encode())
    assert plan.preferred == ("walk",)


texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)
plans = st.builds(
    Plan,
    preferred=st.lists(st.sampled_from([r.id for r in LIBRARY]), unique=True,
                       max_size=3).map(tuple),
    avoided=st.just(()),
    thresholds=st.dictionaries(st.sampled_from(["sustain_s", "grace_s", "settle_s"]),
                               st.floats(min_value=30.0, max_value=1800.0), max_size=3),
    breaths_per_min=st.none() | st.floats(min_value=4.5, max_value=RESONANCE_MAX_BREATHS_PER_MIN),
    coping_text=texts, contact_text=texts,
    locale=st.none() | st.sampled_from(["en-GB", "de-DE", "en"]),
)


@settings(max_examples=60, deadline=None)
@given(plans)
@example(Plan(contact_text="0\r\n0"))  # a CR LF inside a multi-line TOML string became LF
def test_export_then_import_gives_the_same_plan(plan: Plan) -> None:
    normal = plan_from_json(plan.to_json())  # texts are stripped, as any saved plan is
    again = parse_plan_text(plan_to_toml(normal).encode("utf-8"))
    assert again == normal
    assert plan_changes(normal, again) == []


@pytest.mark.parametrize(("text", "field"), [
    (b'preferred = "walk"', "preferred"),
    (b'preferred = ["flying"]', "preferred[0]"),
    (b"breaths_per_min = 40", "breaths_per_min"),
    (b"breaths_per_min = nan", "breaths_per_min"),
    (b"breaths_per_min = inf", "breaths_per_min"),
    (b"breaths_per_min = true", "breaths_per_min"),
    (b"[thresholds]\nsustain_s = 1e300", "thresholds.sustain_s"),
    (b"[thresholds]\nsustain_s = 5", "thresholds.sustain_s"),
    (b"[thresholds]\nmax_heart_rate = 300", "thresholds.max_heart_rate"),
    (b'shell = "rm -rf"', "shell"),
    (b"version = 2", "version"),
    (b"coping_text = 7", "coping_text"),
    (b"locale = 'nowhere land'", "locale"),
    (b"preferred = [", "(file)"),
    (b"\xff\xfe not text", "(file)"),
    (b"{" * 100_000, "(file)"),
    (b"x = " + b"[" * 100_000, "(file)"),
])
def test_hostile_files_name_the_field(text: bytes, field: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_plan_text(text)
    assert caught.value.field == field


def test_every_limit_stays_within_its_range() -> None:
    for key, (low, high) in THRESHOLD_RANGES.items():
        for value in (low - 1e-6, high + 1e-6, -math.inf):
            with pytest.raises(PlanError, match=key):
                parse_plan_text(f"[thresholds]\n{key} = {value}".encode())


def test_a_huge_file_is_refused_before_parsing() -> None:
    big = b"coping_text = '" + b"a" * (10 * 1024 * 1024) + b"'"
    with pytest.raises(PlanError, match="larger than") as caught:
        parse_plan_text(big)
    assert caught.value.field == "(file)"
    assert MAX_PLAN_FILE_BYTES < len(big)


def test_changes_are_said_before_they_apply() -> None:
    old = Plan(preferred=("walk",), thresholds={"sustain_s": 300.0})
    new = Plan(preferred=("resonance",), breaths_per_min=5.0, contact_text="Call Sam")
    lines = plan_changes(old, new)
    assert "preferred resets: A five-minute walk -> Slow, even breathing" in lines
    assert "breathing pace (breaths/min): the usual 6 -> 5" in lines
    assert ("Time readings stay raised before a suggestion (sustain_s): 5 min -> "
            "the usual setting (3 min)") in lines
    assert "contact: empty -> 'Call Sam'" in lines


def test_the_card_is_self_contained_and_escapes_words() -> None:
    page = render_plan_card(Plan(preferred=("walk",), coping_text="<script>x</script> & me",
                                 thresholds={"sustain_s": 300.0}))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "http://" not in page and "https://" not in page
    assert "A five-minute walk" in page and "5 min" in page
    assert "not a medical device" in page


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_cli_export_import_round_trip_with_preview(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    plan_path = tmp_path / "ours.toml"
    plan_path.write_bytes(HAND_WRITTEN)
    assert main(["plan", "import", str(plan_path), "--data-dir", str(data)]) == 1
    out = capsys.readouterr().out
    assert "would change" in out and "Nothing changed" in out
    with Store.open(data) as store:
        assert store.get_document("plan") is None
    assert main(["plan", "import", str(plan_path), "--yes", "--data-dir", str(data)]) == 0
    with Store.open(data) as store:
        assert plan_from_json(store.get_document("plan")) == parse_plan_text(HAND_WRITTEN)
    assert main(["plan", "export", "--data-dir", str(data)]) == 0
    exported = data / "plan.toml"
    assert _mode(exported) == 0o600
    assert parse_plan_text(exported.read_bytes()) == parse_plan_text(HAND_WRITTEN)
    capsys.readouterr()
    assert main(["plan", "import", str(exported), "--data-dir", str(data)]) == 0
    assert "nothing to change" in capsys.readouterr().out
    assert main(["plan", "card", "--data-dir", str(data)]) == 0
    assert _mode(data / "plan-card.html") == 0o600


def test_cli_import_of_a_bad_file_names_the_field(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"[thresholds]\nsustain_s = 99999")
    assert main(["plan", "import", str(bad), "--yes", "--data-dir", str(tmp_path / "d")]) == 2
    assert "thresholds.sustain_s" in capsys.readouterr().err


def _comment_before(text: str, key: str) -> str:
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines)
              if re.fullmatch(rf"(# )?{key} = \S+", line) is not None)
    return lines[at - 1]


@pytest.mark.parametrize("key", list(THRESHOLD_RANGES))
def test_every_threshold_in_the_export_says_what_it_means(key: str) -> None:
    low, high = THRESHOLD_RANGES[key]
    usual = float(getattr(DEFAULT_SETTINGS, key))
    for plan in (Plan(), Plan(thresholds={key: low})):
        comment = _comment_before(plan_to_toml(plan), key)
        assert comment.startswith("# ") and key not in comment.split("must stay below")[0]
        assert f"({low:g} to {high:g}; usual {usual:g})" in comment
        assert re.search(r"(Longer|Lower) = (more sensitive|more patient|stricter|watches)",
                         comment), comment
        assert re.search(r"seconds|beats per minute|activation index|log of the ratio", comment)


def test_a_plan_with_every_threshold_set_round_trips_with_its_comments() -> None:
    thresholds = {key: (low + high) / 2 for key, (low, high) in THRESHOLD_RANGES.items()}
    thresholds["settled_index"] = 0.5
    thresholds["elevated_index"] = 2.0
    plan = plan_from_json({"thresholds": thresholds, "locale": "de-DE"})
    text = plan_to_toml(plan)
    assert parse_plan_text(text.encode()) == plan
    unset = parse_plan_text(plan_to_toml(Plan()).encode())
    assert unset == Plan()  # the usual values are written as comments, so nothing is set


@pytest.mark.parametrize(("text", "words"), [
    (b"hello", "This does not look like a plan file: line 1"),
    (b"coping_text = 'fine'\n!!! what", "This does not look like a plan file: line 2 "
     "(column 1) is not 'name = value'"),
    (b"preferred = [", "at the end of the file (line 1) is unfinished"),
    (b"sustain_s = soon", "on line 1, column 13 is unfinished, or is not a number"),
    (b"a = 1\na = 2", "is given twice"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
     "is not text (a plan file is a small text file"),
    (b"coping_text = 'caf\xe9'", "is text but not saved as UTF-8"),
])
def test_a_broken_file_is_said_in_plain_words(text: bytes, words: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_plan_text(text, "ours.toml")
    message = str(caught.value)
    assert caught.value.field == "(file)"
    assert words in message, message
    assert message.startswith("ours.toml") and "plan field" not in message
    assert not re.search(r"Invalid (value|statement)|\(at ", message), message


def test_cli_import_of_a_binary_file_says_it_is_not_text(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "photo.toml"
    bad.write_bytes(bytes(range(256)) * 4)
    assert main(["plan", "import", str(bad), "--yes", "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "is not text (a plan file is a small text file" in err and "Invalid" not in err


def test_the_card_carries_its_date_and_the_support_contacts() -> None:
    page = render_plan_card(Plan(locale="en-GB", contact_text="Ring Sam on 0123"),
                            made_on=date(2026, 12, 6))
    assert "Made on 6 December 2026" in page and 'datetime="2026-12-06"' in page
    assert "Ring Sam on 0123" in page
    assert "Samaritans" in page and "116 123" in page
    assert "If you would like to talk to someone" in page
    assert not re.search(r"(?i)alarm|warning|urgent|danger|!", page.replace("<!doctype", ""))
    german = render_plan_card(Plan(locale="de-DE"), made_on=date(2026, 12, 6))
    assert "0800 111 0 111" in german and "112" in german
    unknown = render_plan_card(Plan(), made_on=date(2026, 12, 6))
    assert "no checked numbers for this region" in unknown and "Add a locale" in unknown


def test_cli_card_is_dated_today_and_names_the_support_lines(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    plan_path = tmp_path / "ours.toml"
    plan_path.write_bytes(HAND_WRITTEN)
    assert main(["plan", "import", str(plan_path), "--yes", "--data-dir", str(data)]) == 0
    before = date.today()
    assert main(["plan", "card", "--data-dir", str(data)]) == 0
    page = (data / "plan-card.html").read_text()
    assert any(f'datetime="{d.isoformat()}"' in page for d in (before, date.today()))
    assert "Samaritans" in page and "Ring the practice (Mon-Fri)." in page
