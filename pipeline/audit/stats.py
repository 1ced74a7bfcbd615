"""Statistics for the audit measures: Wilson score intervals, SPC p-chart limits and
special-cause signals, funnel-plot limits.

Everything here works on small aggregated tables (one row per measure x period x group),
never on patient rows.

    >>> low, high = wilson_interval([81], [263])
    >>> round(float(low[0]), 4), round(float(high[0]), 4)
    (0.2553, 0.3662)
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd


def z_value(confidence: float) -> float:
    """Two-sided standard normal quantile: 0.95 -> 1.95996..., 0.998 -> 3.09023..."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson_interval(numerator, denominator, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval without continuity correction (Wilson 1927; Newcombe 1998,
    method 3) for k successes out of n. Returns (low, high) arrays; NaN where n is 0 or
    missing (no interval without a denominator). Limits are clipped to [0, 1] so that
    0/n starts exactly at 0 and n/n ends exactly at 1."""
    k = np.asarray(numerator, dtype="float64")
    n = np.asarray(denominator, dtype="float64")
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        z2n = z * z / n
        centre = (p + z2n / 2) / (1 + z2n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z2n)
        ok = n > 0
        low = np.where(ok, np.clip(centre - half, 0.0, 1.0), np.nan)
        high = np.where(ok, np.clip(centre + half, 0.0, 1.0), np.nan)
    low = np.where(ok & (k == 0), 0.0, low)
    high = np.where(ok & (k == n), 1.0, high)
    return low, high


def proportion(numerator, denominator) -> np.ndarray:
    """k / n, NaN where n is 0 or missing."""
    k = np.asarray(numerator, dtype="float64")
    n = np.asarray(denominator, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, k / n, np.nan)


def binomial_limits(centre: float, denominator, z: float) -> tuple[np.ndarray, np.ndarray]:
    """centre -/+ z * sqrt(centre (1 - centre) / n), clipped to [0, 1]: the limits of both
    the p-chart (z = sigma) and the funnel plot (z from the funnel confidence)."""
    n = np.asarray(denominator, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(centre * (1 - centre) / n)
    return np.clip(centre - z * se, 0.0, 1.0), np.clip(centre + z * se, 0.0, 1.0)


def p_chart(numerator, denominator, sigma: float = 3.0, run_length: int = 8) -> pd.DataFrame:
    """Shewhart p-chart for points in time order: rate, centre line (pooled proportion
    sum(k) / sum(n)), lower and upper control limits that vary with each point's n, and
    `signal`: 'above' / 'below' (outside the limits), 'shift' (part of a run of at least
    `run_length` consecutive points on the same side of the centre line), or '' (common
    cause). A point with a missing count (withheld by disclosure control) is left out of
    the centre line and gets no signal; it neither extends nor breaks a run."""
    k = pd.Series(numerator, dtype="float64").reset_index(drop=True)
    n = pd.Series(denominator, dtype="float64").reset_index(drop=True)
    known = k.notna() & n.notna() & (n > 0)
    centre = float(k[known].sum() / n[known].sum()) if known.any() else np.nan
    rate = pd.Series(proportion(k, n))
    lcl, ucl = binomial_limits(centre, n.where(known), sigma)
    out = pd.DataFrame(
        {
            "rate": rate,
            "centre": np.where(known, centre, np.nan),
            "lcl": np.where(known, lcl, np.nan),
            "ucl": np.where(known, ucl, np.nan),
        }
    )
    signal = np.where(known & (rate > out.ucl), "above", np.where(known & (rate < out.lcl), "below", ""))
    out["signal"] = _mark_shifts(signal, np.sign(rate - centre).where(known), run_length)
    return out


def _mark_shifts(signal: np.ndarray, side: pd.Series, run_length: int) -> list[str]:
    """Points on the centre line break a run; withheld points are skipped."""
    signal = list(signal)
    run: list[int] = []
    last = 0.0
    for i, s in enumerate(side):
        if pd.isna(s):
            continue
        if s != 0 and s == last:
            run.append(i)
        else:
            run = [i] if s != 0 else []
        last = s
        if len(run) >= run_length:
            for j in run:
                signal[j] = signal[j] or "shift"
    return signal
