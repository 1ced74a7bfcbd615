"""Config: defaults carry a source; overrides are checked by key and type."""

import pytest

from pipeline.config import load_config
from pipeline.errors import UserError


def test_every_default_has_a_source():
    cfg = load_config()
    for section in cfg:
        for key in cfg[section]:
            assert len(cfg.source(section, key)) > 5, f"{section}.{key} has no source"


def test_override_file_changes_a_value(tmp_path):
    p = tmp_path / "audit.toml"
    p.write_text("[testing]\nlookback_days = 120\n")
    cfg = load_config(p)
    assert cfg["testing"]["lookback_days"] == 120
    assert load_config()["testing"]["lookback_days"] == 90
    assert cfg.hash() != load_config().hash()


@pytest.mark.parametrize("text,message", [
    ("[testing]\nlookback = 120\n", "unknown config key testing.lookback"),
    ("[nonsense]\nx = 1\n", "unknown config section [nonsense]"),
    ("[testing]\nlookback_days = 'ninety'\n", "testing.lookback_days must be int"),
    ("[testing]\nlookback_days = -1\n", "must not be negative"),
    ("[testing\n", "not valid TOML"),
])
def test_bad_override_is_refused_with_the_key(tmp_path, text, message):
    p = tmp_path / "audit.toml"
    p.write_text(text)
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(p)


def test_missing_config_file():
    with pytest.raises(UserError, match="config file not found"):
        load_config("/nonexistent/audit.toml")
