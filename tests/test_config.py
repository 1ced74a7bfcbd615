"""Config: typed, frozen, checked once when loaded; defaults carry a source; overrides are
checked by key, type, range and code list."""

import dataclasses

import pytest

from pipeline.config import SECTIONS, load_config, load_config_from
from pipeline.errors import UserError


def test_every_default_has_a_source_and_every_key_is_declared():
    cfg = load_config()
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            assert len(cfg.source(section, f.name)) > 5, f"{section}.{f.name} has no source"


def test_the_config_is_frozen():
    cfg = load_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.testing.lookback_days = 1


def test_override_file_changes_a_value(tmp_path):
    p = tmp_path / "audit.toml"
    p.write_text("[testing]\nlookback_days = 120\n")
    cfg = load_config(p)
    assert cfg.testing.lookback_days == 120
    assert load_config().testing.lookback_days == 90
    assert cfg.hash() != load_config().hash()
    assert cfg.differences() == [("testing", "lookback_days", 90, 120)]


@pytest.mark.parametrize(
    "text,message",
    [
        ("[testing]\nlookback = 120\n", "unknown config key testing.lookback"),
        ("[nonsense]\nx = 1\n", "unknown config section [nonsense]"),
        ("[testing]\nlookback_days = 'ninety'\n", "testing.lookback_days must be a whole number"),
        ("[testing]\nlookback_days = -1\n", "testing.lookback_days must be at least 0"),
        ("[response]\nmin_rise_g_l = nan\n", "response.min_rise_g_l must be a finite number"),
        ("[causes]\nmentzer_max = inf\n", "causes.mentzer_max must be a finite number"),
        ("[report]\nconfidence = 1.0\n", "report.confidence must be below 1"),
        ("[causes]\nadherence_pdc_min = 1.5\n", "causes.adherence_pdc_min must be at most 1"),
        ("[response]\nfollowup_from_day = 60\n", "response.followup_from_day (60) must not be above"),
        ("[causes]\nblood_loss_conditions = ['gi_bleed']\n", "causes.blood_loss_conditions has unknown condition"),
        ("[testing]\niron_tests = ['feritin']\n", "testing.iron_tests has unknown test 'feritin'"),
        ("[disclosure]\nthreshold = 2.5\n", "disclosure.threshold must be a whole number"),
        ("[testing\n", "not valid TOML"),
    ],
)
def test_bad_override_is_refused_with_the_key(tmp_path, text, message):
    p = tmp_path / "audit.toml"
    p.write_text(text)
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
                       .replace(")", r"\)")):  # fmt: skip
        load_config(p)


def test_an_integer_is_accepted_where_a_number_is_expected():
    assert load_config_from({"response": {"min_rise_g_l": 12}}).response.min_rise_g_l == 12.0


def test_missing_config_file():
    with pytest.raises(UserError, match="config file not found"):
        load_config("/nonexistent/audit.toml")


def test_a_lower_minimum_year_stages_an_older_birth_year(tmp_path):
    """The Pandera bound on birth_year is the config's min_year, not a literal 1900."""
    from tests.conftest import GOOD_PATIENT, load_and_validate, write_input

    cfg = load_config_from({"validation": {"min_year": 1850}})
    old = {**GOOD_PATIENT, "patient_id": "P2", "birth_year": "1860"}
    con, _ = load_and_validate(write_input(tmp_path / "in", patients=[GOOD_PATIENT, old]), tmp_path / "w.duckdb",
                                   config=cfg)  # fmt: skip
    assert sorted(con.table("stg_patients").birth_year.to_pandas()) == [1860, 1960]
