"""Unit harmonisation to the canonical units of RULES.md, driven by the committed table
data/reference/unit_conversions.csv (factor and source per analyte and unit).

Units are compared after normalisation (lower case, no spaces, micro sign and `mcg` as
`u`/`ug`, `^` as `*`, `x10` as `10`), so `ng/mL`, `NG/ML` and `ng / ml` are the same unit.
A unit not in the table is never guessed: the row is quarantined.

    >>> normalise_unit("10^9/L"), normalise_unit(" µg/L "), normalise_unit("mcg/dL")
    ('10*9/l', 'ug/l', 'ug/dl')
"""

from __future__ import annotations

import re
from functools import lru_cache

import ibis
import pandas as pd

from pipeline.codes import read_reference
from pipeline.text import strip

_REPLACEMENTS = (("µ", "u"), ("μ", "u"), ("mcg", "ug"), ("^", "*"), ("x10", "10"), ("×10", "10"))


def normalise_unit(unit: str) -> str:
    u = re.sub(r"\s+", "", unit.strip().lower())
    for old, new in _REPLACEMENTS:
        u = u.replace(old, new)
    return u


def normalise_unit_expr(col: ibis.ir.StringValue) -> ibis.ir.StringValue:
    """The same normalisation as `normalise_unit`, as an Ibis expression."""
    u = strip(col).lower().re_replace(r"\s+", "")
    for old, new in _REPLACEMENTS:
        u = u.replace(old, new)
    return u


@lru_cache(maxsize=1)
def load_conversions() -> pd.DataFrame:
    df = read_reference("unit_conversions.csv").fillna("")
    df["factor"] = pd.to_numeric(df["factor"])
    df["from_unit_norm"] = df["from_unit"].map(normalise_unit)
    dupes = df.duplicated(["analyte", "from_unit_norm"])
    if dupes.any():
        raise ValueError(f"unit_conversions.csv: duplicate conversions {df[dupes][['analyte', 'from_unit']].values}")
    return df
