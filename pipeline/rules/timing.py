"""When does an event count as "before" a reference moment?

The tie rule (RULES.md 'Which tests must come before which treatment'; issue 3 Design):
- when either side carries only a date (`*_has_time` false), compare calendar days, and an
  event on the same day as the reference counts as before it;
- when both carry a time, the event must be at or before the reference moment.
Windows ("within 90 days") are always counted in calendar days between the two dates, so a
window of N days is inclusive of day N.
"""

from __future__ import annotations

import ibis


def as_date(v: ibis.Value) -> ibis.Value:
    """The calendar date of a timestamp (a date stays as it is)."""
    return v.date() if v.type().is_timestamp() else v


def days_after(event_at: ibis.Value, ref_at: ibis.Value) -> ibis.Value:
    """Calendar days from the reference date to the event date (negative when the event is
    earlier). Null when either is null. Accepts timestamps or dates."""
    return as_date(event_at).delta(as_date(ref_at), unit="day")


def at_or_before(event_at, event_has_time, ref_at, ref_has_time) -> ibis.Value:
    """True when the event counts as at or before the reference under the tie rule above.
    A null `*_has_time` is treated as date-only (the cautious reading)."""
    both_timed = event_has_time.fill_null(False) & ref_has_time.fill_null(False)
    return ibis.ifelse(both_timed, event_at <= ref_at, event_at.date() <= ref_at.date())


def in_window_before(event_at, event_has_time, ref_at, ref_has_time, days: int) -> ibis.Value:
    """Event at or before the reference (tie rule) and at most `days` calendar days earlier."""
    return at_or_before(event_at, event_has_time, ref_at, ref_has_time) & (days_after(event_at, ref_at) >= -days)


def in_window_after(event_at, event_has_time, ref_at, ref_has_time, days: int) -> ibis.Value:
    """Event strictly after the reference (not 'before' under the tie rule) and at most
    `days` calendar days later."""
    return ~at_or_before(event_at, event_has_time, ref_at, ref_has_time) & (days_after(event_at, ref_at) <= days)
