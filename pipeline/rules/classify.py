"""Classify the staged data: treatment episodes, iron outcomes and failure causes.

`classify(con, config)` writes `episodes`, `failure_causes` and `iron_outcomes` to the
warehouse and returns their row counts. `classify_with(overrides, con)` builds the same
tables as Ibis expressions under a changed config without writing anything (for exploring
thresholds in a notebook):

    >>> import ibis
    >>> from pipeline.rules.classify import classify_with
    >>> con = ibis.duckdb.connect()        # doctest: +SKIP
    >>> tables = classify_with({"testing": {"lookback_days": 120}}, con)   # doctest: +SKIP
    >>> tables["episodes"].testing_status.value_counts().to_pandas()       # doctest: +SKIP

The rules are in `pipeline.rules` (one module per clinical question); docs/rules.md
describes every column.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ibis

from pipeline.config import Config, load_config
from pipeline.engine import StepTables, tables
from pipeline.engine.registry import CLASSIFIED, spec
from pipeline.progress import Planned, Progress, item, quiet
from pipeline.rules import adherence, causes, coprescribing, episodes, exclusions, response, testing
from pipeline.rules.inputs import Staged, attach, read_staged

OUTPUT_TABLES = CLASSIFIED

EPISODE_COLUMNS = spec("episodes").names
OUTCOME_COLUMNS = spec("iron_outcomes").names


RULE_STEPS = 10  # the keep() calls of _steps: the progress total of `classify`


def _steps(staged: Staged, cfg: Config, keep) -> dict[str, ibis.Table]:
    """The classification, step by step. `keep(name, table)` materialises an intermediate table (Ibis
    `.cache()`: a temporary table on the backend, never written to the warehouse file), so
    later steps read it instead of recompiling it into every query that needs it."""
    members = keep("episode members", episodes.episode_members(staged, cfg))
    spans = keep("episode spans", episodes.episode_spans(members, staged.patients, cfg))
    tests = keep("qualifying tests", testing.qualifying_tests(staged.labs, cfg))
    ep = attach(spans, testing.testing_status(spans, tests, cfg), "episode_id")
    ep = attach(ep, exclusions.excluded_reasons(spans, staged, cfg), "episode_id")
    ep = keep("testing, exclusions, just in case", tables.conform("episodes", coprescribing.just_in_case(ep, cfg)))
    hb = keep("haemoglobin that judges the response", response.judging_hb(staged.labs, cfg))
    base = keep("iron response", response.iron_outcomes(ep, staged, cfg, hb=hb))
    failed = keep("failed episodes", causes.failed_episodes(ep, base, members, cfg))
    adh = keep("adherence", adherence.adherence(failed, staged.dispensings, cfg))
    candidates = keep("candidate causes", causes.candidate_causes(failed, adh, members, staged, cfg))
    fc = causes.failure_causes(failed, candidates, adh, staged, cfg)
    fc = keep("failure causes", tables.conform("failure_causes", fc))
    out = attach(base, causes.primary_causes(fc, cfg), "episode_id")
    out = out.mutate(primary_cause=ibis.ifelse(out.outcome == "failed", out.primary_cause, ibis.null("string")))
    return {"episodes": ep, "iron_outcomes": out.select(*OUTCOME_COLUMNS), "failure_causes": fc}


def build(
    staged: Staged,
    cfg: Config,
    progress: Progress = quiet,
    store: Callable[[ibis.Table], ibis.Table] | None = None,
) -> dict[str, ibis.Table]:
    """The three output tables for the given staged tables and config. Each intermediate step
    is materialised by `store` (default: Ibis `.cache()`, a temporary table on the backend).
    The config was checked when it was loaded (pipeline.config). `progress` hears one item per
    rule step (pipeline/progress.py)."""

    def keep(name: str, t: ibis.Table) -> ibis.Table:
        with item(progress, "classify", name) as done:
            t = store(t) if store is not None else t.cache()
            done.rows = int(t.count().execute())
        return t

    return _steps(staged, cfg, keep=keep)


def classify(con: ibis.BaseBackend, config: Config, progress: Progress = quiet) -> dict[str, int]:
    """Read stg_* from the warehouse, write episodes, iron_outcomes and failure_causes
    (replacing earlier versions, all three together in one transaction) and return the row
    count of each."""
    progress(Planned("classify", RULE_STEPS + 1, "rules"))
    # the kept steps are temporary tables outside the outputs' transaction
    # (pipeline/engine/step_tables.py): a failed or killed run leaves the warehouse as it was
    with StepTables(con, "_classify_step") as steps:
        built = build(read_staged(con), config, progress, store=steps.keep)
        with item(progress, "classify", "write episodes, iron_outcomes, failure_causes") as done:
            steps.write({name: built[name] for name in OUTPUT_TABLES})
            counts = {name: tables.count(con, name) for name in OUTPUT_TABLES}
            done.rows = sum(counts.values())
    return counts


def classify_with(
    config_overrides: Mapping[str, Mapping[str, Any]] | Config, con: ibis.BaseBackend, base: Config | None = None
) -> dict[str, ibis.Table]:
    """The three classification tables under the defaults (or `base`) changed by
    `config_overrides` ({"section": {"key": value}}), as Ibis tables; nothing is written to
    the warehouse (intermediate steps live in backend temporary tables). A ready `Config`
    is used as it is. Unknown sections or keys, or values of the wrong type, raise UserError."""
    if isinstance(config_overrides, Config):
        cfg = config_overrides
    else:
        cfg = (base or load_config()).with_overrides(config_overrides, origin="classify_with overrides")
    return build(read_staged(con), cfg)
