"""Fixtures shared by the audit tests."""

import ibis
import pytest

from pipeline.audit.measures import audit_population
from pipeline.config import load_config
from tests.report_fixtures import connect


@pytest.fixture(scope="module")
def synthetic_population(tmp_path_factory):
    """The audit population of a classified synthetic cohort (its dirty rows included)."""
    from pipeline import steps
    from pipeline.audit.headline import report_span

    tmp = tmp_path_factory.mktemp("measures_together")
    config = load_config()
    steps.synth(600, 11, tmp / "in")
    db = tmp / "w.duckdb"
    steps.load("csv", tmp / "in", db, config)
    steps.validate(db, config)
    steps.classify(db, config)
    con = connect(db)
    span = report_span(con)
    yield con, audit_population(con, config).mutate(_span_start=ibis.literal(span[0]))
    con.disconnect()
