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

from collections.abc import Mapping
from typing import Any

import ibis

from pipeline.config import Config, load_config
from pipeline.engine import tables, transaction
from pipeline.engine.registry import CLASSIFIED, spec
from pipeline.rules import adherence, causes, coprescribing, episodes, exclusions, response, testing
from pipeline.rules.inputs import Staged, attach, read_staged

OUTPUT_TABLES = CLASSIFIED

EPISODE_COLUMNS = spec("episodes").names
OUTCOME_COLUMNS = spec("iron_outcomes").names


def _steps(staged: Staged, cfg: Config, keep) -> dict[str, ibis.Table]:
    """The classification, step by step. `keep` materialises an intermediate table (Ibis
    `.cache()`: a temporary table on the backend, never written to the warehouse file), so
    later steps read it instead of recompiling it into every query that needs it."""
    members = keep(episodes.episode_members(staged, cfg))
    spans = keep(episodes.episode_spans(members, staged.patients, cfg))
    tests = keep(testing.qualifying_tests(staged.labs, cfg))
    ep = attach(spans, testing.testing_status(spans, tests, cfg), "episode_id")
    ep = attach(ep, exclusions.excluded_reasons(spans, staged, cfg), "episode_id")
    ep = keep(coprescribing.just_in_case(ep, cfg).select(*EPISODE_COLUMNS))
    base = keep(response.iron_outcomes(ep, staged, cfg))
    failed = keep(causes.failed_episodes(ep, base, members, cfg))
    adh = keep(adherence.adherence(failed, staged.dispensings, cfg))
    candidates = keep(causes.candidate_causes(failed, adh, members, staged, cfg))
    fc = keep(causes.failure_causes(failed, candidates, adh, staged, cfg))
    out = attach(base, causes.primary_causes(fc, cfg), "episode_id")
    out = out.mutate(primary_cause=ibis.ifelse(out.outcome == "failed", out.primary_cause, ibis.null("string")))
    return {"episodes": ep, "iron_outcomes": out.select(*OUTCOME_COLUMNS), "failure_causes": fc}


def build(staged: Staged, cfg: Config) -> dict[str, ibis.Table]:
    """The three output tables for the given staged tables and config (intermediate steps
    cached on the backend). The config was checked when it was loaded (pipeline.config)."""
    return _steps(staged, cfg, keep=lambda t: t.cache())


def classify(con: ibis.BaseBackend, config: Config) -> dict[str, int]:
    """Read stg_* from the warehouse, write episodes, iron_outcomes and failure_causes
    (replacing earlier versions, all three together) and return the row count of each."""
    built = build(read_staged(con), config)
    with transaction(con):
        for name in OUTPUT_TABLES:
            tables.write(con, name, built[name])
    return {name: tables.count(con, name) for name in OUTPUT_TABLES}


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
