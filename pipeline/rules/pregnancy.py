"""Was the patient pregnant on a given day?

A pregnancy is recorded in stg_patients as `pregnancy_start` (the start of gestation) and
`pregnancy_end`; a missing end is taken as start + `[coprescribing] pregnancy_default_days`
(280, forty weeks). A day counts as in the pregnancy when it falls between the start and the
end, both inclusive. A patient with no pregnancy dates is not pregnant on any day (a missing
start is never a guess), which callers report as such.
"""

from __future__ import annotations

import ibis


def pregnancy_end(start, end, cfg) -> ibis.Value:
    """The recorded end, else start + `pregnancy_default_days` (null without a start)."""
    return ibis.coalesce(end, start + ibis.interval(days=cfg.coprescribing.pregnancy_default_days))


def in_pregnancy(day: ibis.Value, start, end, cfg) -> ibis.Value:
    """True when the calendar date `day` lies in the recorded pregnancy (false when unknown)."""
    return ((day >= start) & (day <= pregnancy_end(start, end, cfg))).fill_null(False)
