"""Recovery metrics: time to settle, HR half-recovery from a fitted exponential, ln RMSSD share."""

from __future__ import annotations

import math

import numpy as np
import pytest

from afterbeat.activation.recovery import RecoverySample, recovery_metrics
from afterbeat.activation.settings import Settings
from arousal_helpers import flat_baseline

S = Settings()


def _samples(tau_s: float, h0: float, plateau: float, ln0: float, ln_tau_s: float,
             noise_bpm: float = 0.0, seed: int = 5) -> list[RecoverySample]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(0, 361):  # 30 min at 5 s
        t = 1000.0 + 5.0 * i
        dt = t - 1000.0
        hr = plateau + (h0 - plateau) * math.exp(-dt / tau_s) + rng.normal(0.0, noise_bpm)
        ln = 3.5 + (ln0 - 3.5) * math.exp(-dt / ln_tau_s)
        out.append(RecoverySample(t, hr, ln))
    return out


def test_half_recovery_from_a_known_exponential() -> None:
    samples = _samples(tau_s=200.0, h0=85.0, plateau=62.0, ln0=2.9, ln_tau_s=600.0,
                       noise_bpm=1.0)
    r = recovery_metrics(samples, 1000.0, flat_baseline(60.0, 3.5), 1500.0, S)
    assert r.heart_rate_half_recovery_s == pytest.approx(200.0 * math.log(2), rel=0.1)
    assert r.heart_rate_plateau_bpm == pytest.approx(62.0, abs=0.7)
    assert r.heart_rate_residual_bpm == pytest.approx(2.0, abs=0.7)
    # ln RMSSD: 1 - e^-1 of the deficit recovered at 10 min
    assert r.ln_rmssd_recovered_share_10min == pytest.approx(1 - math.exp(-1), abs=0.01)
    assert r.time_to_settle_s == 500.0 and not r.settled_within_grace
    assert r.to_json()["heart_rate_half_recovery_s"] == pytest.approx(138.6, abs=15)


def test_flat_heart_rate_gives_no_fit_and_says_why() -> None:
    samples = [RecoverySample(100.0 + 5 * i, 60.0, 3.5) for i in range(200)]
    r = recovery_metrics(samples, 100.0, flat_baseline(60.0, 3.5), 220.0, S)
    assert r.heart_rate_half_recovery_s is None
    assert r.settled_within_grace and r.time_to_settle_s == 120.0
    assert r.ln_rmssd_recovered_share_10min is None
    assert any("did not come down" in n for n in r.notes)
    assert any("already at the resting baseline" in n for n in r.notes)


def test_too_little_data_and_no_baseline() -> None:
    samples = [RecoverySample(5.0 * i, 80.0 - i, None) for i in range(10)]
    r = recovery_metrics(samples, 0.0, None, None, S)
    assert r.heart_rate_half_recovery_s is None and r.time_to_settle_s is None
    assert r.heart_rate_residual_bpm is None
    assert len(r.notes) >= 3


def test_real_heart_rate_decline_fits(data_dir: object) -> None:
    # GUDB subject 00: jogging then sitting; the sitting beats follow the effort's decline
    # only loosely, so build the decline from the jogging HR down to the sitting HR.
    from pathlib import Path
    base_dir = Path(str(data_dir)) / "gudb-chest-strap" / "subject_00"
    jog = np.diff(np.loadtxt(base_dir / "jogging" / "annotation_cs.tsv")) * 4.0
    sit = np.diff(np.loadtxt(base_dir / "sitting" / "annotation_cs.tsv")) * 4.0
    h0 = 60000.0 / float(np.mean(jog[-60:]))
    plateau = 60000.0 / float(np.mean(sit))
    samples = _samples(tau_s=90.0, h0=h0, plateau=plateau, ln0=3.0, ln_tau_s=300.0,
                       noise_bpm=2.0)
    r = recovery_metrics(samples, 1000.0, flat_baseline(plateau, 3.5), None, S)
    assert r.heart_rate_half_recovery_s == pytest.approx(90.0 * math.log(2), rel=0.2)
    assert abs(r.heart_rate_residual_bpm or 99.0) < 1.0
