"""Classify the staged data: treatment episodes, iron outcomes and failure causes.

`classify(con, config)` writes `episodes`, `failure_causes` and `iron_outcomes` to the
warehouse and returns their row counts. `classify_with(overrides, con)` builds the same
tables as Ibis expressions under a changed config without writing anything (for exploring
thresholds in a notebook):

    >>> import ibis
    >>> from pipeline.classify import classify_with
    >>> con = ibis.duckdb.connect()        # doctest: +SKIP
    >>> tables = classify_with({"testing": {"lookback_days": 120}}, con)   # doctest: +SKIP
    >>> tables["episodes"].testing_status.value_counts().to_pandas()       # doctest: +SKIP

The rules are in `pipeline.rules` (one module per clinical question); docs/rules.md
describes every column.
"""

from __future__ import annotations

from contextlib import contextmanager

from collections.abc import Mapping
from typing import Any

import ibis

from pipeline.config import Config, load_config
from pipeline.errors import UserError
from pipeline.rules import adherence, causes, coprescribing, episodes, exclusions, response, testing
from pipeline.rules.staged import Staged, attach, read_staged

OUTPUT_TABLES = ("episodes", "iron_outcomes", "failure_causes")

EPISODE_COLUMNS = (
    "episode_id", "patient_id", "agent", "route", "start_at", "start_has_time", "end_at",
    "testing_status", "prior_test_at", "prior_test_analyte", "prior_result_class",
    "is_just_in_case", "excluded_reason", "site", "prescriber_specialty", "first_row_id",
    # beyond the contract: the rows and facts behind the classification
    "source_table", "n_rows", "prior_test_row_id", "after_test_at", "after_test_row_id",
    "course_end_known_at", "elemental_iron_mg_per_day",
)
OUTCOME_COLUMNS = (
    "episode_id", "patient_id", "baseline_hb_g_l", "baseline_at", "followup_hb_g_l", "followup_at",
    "hb_change_g_l", "outcome", "not_assessable_reason", "escalated_to_iv", "primary_cause",
    "hb_cutoff_g_l", "baseline_row_id", "followup_row_id", "escalated_at", "escalation_table",
    "escalation_row_id", "escalation_drug", "assessed_at",
)


def check_rule_config(cfg: Config) -> None:
    """Refuse list values the rules cannot use (a typo would otherwise silently match
    nothing): causes in the precedence, qualifying tests, condition groups and drug classes
    must be known to the code lists. One UserError naming the key."""
    from pipeline.codes import load_condition_codes, load_drug_codes, load_lab_codes

    known = {
        "condition group": set(load_condition_codes().condition_group),
        "drug class": set(load_drug_codes().drug_class.dropna()),
        "test": set(load_lab_codes().analyte) | {testing.IRON_PAIR},
        "cause": set(causes.CAUSES),
    }
    for section, key, kind in _LIST_KEYS:
        unknown = sorted(set(cfg[section][key]) - known[kind])
        if unknown:
            raise UserError(f"{cfg.origin}: {section}.{key} has unknown {kind} {', '.join(map(repr, unknown))}; "
                            f"known: {', '.join(sorted(known[kind]))}")
    if sorted(cfg["causes"]["precedence"]) != sorted(causes.CAUSES):
        raise UserError(f"{cfg.origin}: causes.precedence must list every cause exactly once: "
                        f"{', '.join(causes.CAUSES)}")
    r = cfg["response"]
    if r["followup_from_day"] > r["followup_to_day"]:
        raise UserError(f"{cfg.origin}: response.followup_from_day must not be after response.followup_to_day")
    if cfg["deficiency"]["b12_deficient_pmol_l"] > cfg["deficiency"]["b12_indeterminate_pmol_l"]:
        raise UserError(f"{cfg.origin}: deficiency.b12_deficient_pmol_l must not exceed b12_indeterminate_pmol_l")


_LIST_KEYS = (
    ("testing", "iron_tests", "test"), ("testing", "b12_tests", "test"), ("testing", "folate_tests", "test"),
    ("coprescribing", "pregnancy_conditions", "condition group"),
    ("coprescribing", "methotrexate_drug_classes", "drug class"),
    ("coprescribing", "pernicious_anaemia_conditions", "condition group"),
    ("coprescribing", "gastrectomy_conditions", "condition group"),
    ("response", "escalation_drug_classes", "drug class"),
    ("causes", "blood_loss_conditions", "condition group"), ("causes", "blood_loss_drug_classes", "drug class"),
    ("causes", "malabsorption_conditions", "condition group"), ("causes", "malabsorption_drug_classes", "drug class"),
    ("causes", "inflammation_conditions", "condition group"), ("causes", "wrong_diagnosis_conditions", "condition group"),
    ("causes", "marrow_conditions", "condition group"), ("causes", "marrow_drug_classes", "drug class"),
    ("causes", "haemolysis_conditions", "condition group"), ("causes", "irida_conditions", "condition group"),
    ("causes", "precedence", "cause"),
)


def _steps(staged: Staged, cfg: Config, keep) -> dict[str, ibis.Table]:
    """The classification, step by step. `keep` materialises an intermediate table (Ibis
    `.cache()`: a temporary table on the backend, never written to the warehouse file), so
    later steps read it instead of recompiling it into every query that needs it."""
    members = keep(episodes.episode_members(staged, cfg))
    spans = keep(episodes.episode_spans(members, staged.patients))
    tests = keep(testing.qualifying_tests(staged.labs, cfg))
    ep = attach(spans, testing.testing_status(spans, tests, cfg), "episode_id")
    ep = attach(ep, exclusions.excluded_reasons(spans, staged, cfg), "episode_id")
    ep = keep(coprescribing.just_in_case(ep, cfg).select(*EPISODE_COLUMNS))
    base = keep(response.iron_outcomes(ep, staged, cfg))
    failed = keep(causes.failed_episodes(ep, base))
    adh = keep(adherence.adherence(failed, staged.dispensings, cfg))
    candidates = keep(causes.candidate_causes(failed, adh, members, staged, cfg))
    fc = keep(causes.failure_causes(failed, candidates, adh, staged, cfg))
    out = attach(base, causes.primary_causes(fc, cfg), "episode_id")
    out = out.mutate(primary_cause=ibis.ifelse(out.outcome == "failed", out.primary_cause, ibis.null("string")))
    return {"episodes": ep, "iron_outcomes": out.select(*OUTCOME_COLUMNS), "failure_causes": fc}


def build(staged: Staged, cfg: Config) -> dict[str, ibis.Table]:
    """The three output tables for the given staged tables and config (intermediate steps
    cached on the backend). The config is checked first (`check_rule_config`)."""
    check_rule_config(cfg)
    return _steps(staged, cfg, keep=lambda t: t.cache())


def classify(con: ibis.BaseBackend, config: Config) -> dict[str, int]:
    """Read stg_* from the warehouse, write episodes, iron_outcomes and failure_causes
    (replacing earlier versions) and return the row count of each."""
    tables = build(read_staged(con), config)
    with _transaction(con):
        for name in OUTPUT_TABLES:
            con.create_table(name, tables[name], overwrite=True)
    return {name: int(con.table(name).count().execute()) for name in OUTPUT_TABLES}


@contextmanager
def _transaction(con: ibis.BaseBackend):
    """All three tables are replaced together or not at all (DuckDB); other engines write in turn."""
    if con.name != "duckdb":
        yield
        return
    con.con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.con.execute("ROLLBACK")
        raise
    con.con.execute("COMMIT")


def classify_with(config_overrides: Mapping[str, Mapping[str, Any]] | Config, con: ibis.BaseBackend,
                  base: Config | None = None) -> dict[str, ibis.Table]:
    """The three classification tables under the defaults (or `base`) changed by
    `config_overrides` ({"section": {"key": value}}), as Ibis tables; nothing is written to
    the warehouse (intermediate steps live in backend temporary tables). A ready `Config`
    is used as it is. Unknown sections or keys, or values of the wrong type, raise UserError."""
    if isinstance(config_overrides, Config):
        cfg = config_overrides
    else:
        cfg = (base or load_config()).with_overrides(config_overrides, origin="classify_with overrides")
    return build(read_staged(con), cfg)
