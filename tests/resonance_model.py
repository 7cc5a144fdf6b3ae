"""A synthetic heart responding to paced breathing, with a known resonance (tests and bench).

Model (all parameters on :class:`Person`; units in the names):

- Breathing: lung volume ``v(t)`` in 0-1. While the person follows the pacer it is the pacer's
  raised-cosine shape (inhale share as the protocol), ``lag_s`` behind it; in the settling rest,
  the breaks and whenever they do not follow, they breathe at their own rate
  ``spontaneous_bpm`` (slowly wandering by +-10 %).
- Baroreflex resonance: a damped second-order band-pass driven by the breath,
  ``H(s) = 2 zeta w0 s / (s^2 + 2 zeta w0 s + w0^2)``, ``w0 = 2 pi resonance_bpm / 60``: gain 1
  and phase 0 at the resonance, falling off on both sides (Vaschillo et al. 2002 model the
  heart-rate baroreflex as such a resonator around 0.1 Hz). Its output times ``rsa_bpm`` is the
  resonant heart-rate swing (bpm of half-amplitude at resonance).
- Direct respiratory sinus arrhythmia: ``direct_share x rsa_bpm`` times the breath through a
  first-order low-pass at 0.25 Hz (vagal RSA shrinks at fast breathing).
- Slow waves: three sinusoids in 0.005-0.035 Hz with random phases, ``slow_bpm`` each (VLF).
- HRV noise: an AR(1) process on the 4 Hz grid (time constant 2 s), s.d. ``noise_bpm``.
- Beats by integrate-and-fire on the heart-rate curve (``heart_rate_bpm`` mean), then ectopic
  beats at ``ectopic_rate``: a premature beat at 65 % of the interval and a compensatory pause.

``true_rate_bpm`` is where this heart's swing is largest for paced breathing, found on a fine
grid of the model's own transfer function (the resonant and direct paths together).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from afterbeat.resets.resonance import Block

FloatArray = NDArray[np.float64]
GRID_HZ = 4.0


@dataclass(frozen=True, slots=True)
class Person:
    """Parameters of one synthetic person (see the module docstring)."""

    resonance_bpm: float = 5.5
    zeta: float = 0.25
    rsa_bpm: float = 8.0
    direct_share: float = 0.25
    heart_rate_bpm: float = 68.0
    noise_bpm: float = 1.5
    slow_bpm: float = 1.5
    ectopic_rate: float = 0.003
    spontaneous_bpm: float = 14.0
    follow: float = 1.0
    """Share of paced time the person actually breathes with the pacer (in stretches)."""
    lag_s: float = 0.5

    def gain(self, rate_bpm: float) -> float:
        """Heart-rate half-swing (bpm) for steady sinusoidal breathing at ``rate_bpm``."""
        w = 2 * math.pi * rate_bpm / 60.0
        w0 = 2 * math.pi * self.resonance_bpm / 60.0
        s = 1j * w
        res = 2 * self.zeta * w0 * s / (s * s + 2 * self.zeta * w0 * s + w0 * w0)
        direct = 1.0 / (1.0 + s / (2 * math.pi * 0.25))
        return float(abs(self.rsa_bpm * (res + self.direct_share * direct)))

    def true_rate_bpm(self) -> float:
        """Where :meth:`gain` peaks between 3 and 9 breaths/min (0.01 steps)."""
        grid = np.arange(3.0, 9.0, 0.01)
        return float(grid[int(np.argmax([self.gain(r) for r in grid]))])


def _raised_cosine(x: FloatArray, share: float) -> FloatArray:
    return np.asarray(np.where(
        x < share, 0.5 * (1 - np.cos(np.pi * x / share)),
        0.5 * (1 + np.cos(np.pi * (x - share) / (1 - share)))), dtype=np.float64)


def breathing(person: Person, blocks: list[Block], duration_s: float,
              rng: np.random.Generator) -> FloatArray:
    """Lung volume (0-1) on the 4 Hz grid over ``duration_s``."""
    t = np.arange(0.0, duration_s, 1.0 / GRID_HZ)
    wander = 1 + 0.1 * np.sin(2 * np.pi * t / 97.0 + rng.uniform(0, 2 * np.pi))
    own_phase = np.cumsum(person.spontaneous_bpm / 60.0 * wander / GRID_HZ)
    v = _raised_cosine(np.mod(own_phase, 1.0), 0.4)
    for block in blocks:
        inside = (t >= block.start_s) & (t < block.end_s)
        x = np.mod((t[inside] - person.lag_s - block.start_s) / block.cycle_s, 1.0)
        paced = _raised_cosine(x, block.inhale_share)
        if person.follow < 1.0:
            # stretches of ~30 s: followed with probability `follow`
            stretch = ((t[inside] - block.start_s) // 30.0).astype(int)
            keep = rng.random(int(stretch.max()) + 1) < person.follow
            paced = np.where(keep[stretch], paced, v[inside])
        v[inside] = paced
    return v


def heart_rate(person: Person, volume: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Heart rate (bpm) on the 4 Hz grid driven by ``volume``."""
    w0 = 2 * math.pi * person.resonance_bpm / 60.0
    b, a = signal.bilinear([2 * person.zeta * w0, 0.0], [1.0, 2 * person.zeta * w0, w0 * w0],
                           fs=GRID_HZ)
    drive = 2.0 * (volume - volume.mean())  # -1..1 for full breaths
    resonant = signal.lfilter(b, a, drive)
    wc = 2 * math.pi * 0.25
    bd, ad = signal.bilinear([wc], [1.0, wc], fs=GRID_HZ)
    direct = signal.lfilter(bd, ad, drive)
    t = np.arange(volume.size) / GRID_HZ
    slow = np.zeros(volume.size)
    for f in rng.uniform(0.005, 0.035, 3):
        slow += person.slow_bpm * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    phi = math.exp(-1.0 / (2.0 * GRID_HZ))
    shocks = rng.normal(0.0, person.noise_bpm * math.sqrt(1 - phi * phi), volume.size)
    noise = signal.lfilter([1.0], [1.0, -phi], shocks)
    hr = (person.heart_rate_bpm + person.rsa_bpm * (resonant + person.direct_share * direct)
          + slow + noise)
    return np.asarray(np.clip(hr, 35.0, 180.0), dtype=np.float64)


def beats(person: Person, hr_bpm: FloatArray, rng: np.random.Generator) -> FloatArray:
    """RR intervals (ms) by integrate-and-fire on ``hr_bpm``, with ectopic beats."""
    phase = np.concatenate([[0.0], np.cumsum(hr_bpm / 60.0 / GRID_HZ)])
    t = np.arange(phase.size) / GRID_HZ
    crossings = np.arange(1.0, math.floor(phase[-1]))
    times = np.interp(crossings, phase, t)
    rr = np.diff(times) * 1000.0
    i = 2
    while i < rr.size - 2:
        if rng.random() < person.ectopic_rate:
            total = rr[i] + rr[i + 1]
            rr[i] = 0.65 * rr[i]
            rr[i + 1] = total - rr[i]
            i += 3
        else:
            i += 1
    return np.asarray(rr, dtype=np.float64)


def simulate(person: Person, blocks: list[Block], duration_s: float, seed: int) -> FloatArray:
    """RR intervals (ms) of ``person`` through an assessment with ``blocks`` (s from 0)."""
    rng = np.random.default_rng(seed)
    volume = breathing(person, blocks, duration_s, rng)
    return beats(person, heart_rate(person, volume, rng), rng)


def random_person(rng: np.random.Generator, *, noise_scale: float = 1.0,
                  follow: float = 1.0) -> Person:
    """A person drawn from the ranges the tests and the bench use."""
    return Person(
        resonance_bpm=float(rng.uniform(4.5, 6.5)), zeta=float(rng.uniform(0.15, 0.35)),
        rsa_bpm=float(rng.uniform(4.0, 12.0)), direct_share=float(rng.uniform(0.1, 0.4)),
        heart_rate_bpm=float(rng.uniform(55.0, 85.0)),
        noise_bpm=noise_scale * float(rng.uniform(1.0, 2.5)),
        slow_bpm=noise_scale * float(rng.uniform(0.5, 2.0)),
        ectopic_rate=float(rng.uniform(0.0, 0.006)), spontaneous_bpm=float(rng.uniform(11, 17)),
        follow=follow, lag_s=float(rng.uniform(0.2, 1.0)))
