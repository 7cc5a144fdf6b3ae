"""The plan file made together: round trips, hand-written files, hostile files, the card."""

from __future__ import annotations

import json
import math
import stat
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

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
    assert "threshold sustain_s: 300 -> the usual setting" in lines
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
