"""Progress events: what a long step tells whoever watches it, knowing nothing of a terminal.

The steps (pipeline/steps.py and every package below it) take a `progress` callable and call
it with the events below; they never print. The CLI renders the events (rich progress bars
on a terminal, plain lines otherwise: pipeline/cli.py); the tests and the notebook API pass
nothing and see nothing.

    >>> seen = []
    >>> with step(seen.append, "validate", total=2, unit="tables"):
    ...     with item(seen.append, "validate", "raw_labs") as done:
    ...         done.rows = 10
    >>> [type(e).__name__ for e in seen]
    ['StepStarted', 'ItemStarted', 'ItemDone', 'StepDone']
    >>> seen[2].rows
    10
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class StepStarted:
    """A step began; `total` items of `unit` are ahead (None: not known yet)."""

    step: str
    total: int | None = None
    unit: str = ""


@dataclass(frozen=True)
class Planned:
    """The step now knows how many items it will go through."""

    step: str
    total: int
    unit: str = ""


@dataclass(frozen=True)
class ItemStarted:
    """One item of a step began: a file, a table, a rule, a measure or a report part."""

    step: str
    item: str


@dataclass(frozen=True)
class ItemDone:
    """One item finished: `rows` handled (None: not counted) in `seconds`; `detail` says
    anything else worth a line (e.g. 'already loaded')."""

    step: str
    item: str
    seconds: float
    rows: int | None = None
    detail: str = ""

    @property
    def rows_per_second(self) -> float | None:
        if self.rows is None or self.seconds <= 0:
            return None
        return self.rows / self.seconds


@dataclass(frozen=True)
class Counted:
    """A step that counts units rather than items (synth: patients written so far)."""

    step: str
    done: int
    total: int
    unit: str = ""


@dataclass(frozen=True)
class StepDone:
    step: str
    seconds: float


@dataclass(frozen=True)
class Note:
    """Something the user should read (a file skipped, a mapping note); never an identifier."""

    step: str
    text: str


Event = StepStarted | Planned | ItemStarted | ItemDone | Counted | StepDone | Note
Progress = Callable[[Event], None]


def quiet(_: Event) -> None:
    """The default: nobody is watching."""


class _Done:
    rows: int | None = None
    detail: str = ""


@contextmanager
def step(progress: Progress, name: str, total: int | None = None, unit: str = "") -> Iterator[None]:
    """StepStarted, then StepDone with the seconds it took (only when it succeeded)."""
    t0 = time.perf_counter()
    progress(StepStarted(name, total, unit))
    yield
    progress(StepDone(name, time.perf_counter() - t0))


@contextmanager
def item(progress: Progress, step_name: str, name: str) -> Iterator[_Done]:
    """ItemStarted, then ItemDone with the seconds it took and the `rows` (and `detail`)
    the caller set on the yielded object."""
    t0 = time.perf_counter()
    progress(ItemStarted(step_name, name))
    done = _Done()
    yield done
    progress(ItemDone(step_name, name, time.perf_counter() - t0, done.rows, done.detail))
