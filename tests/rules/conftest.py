"""Fixtures for the rule spec tests; the table builder is in staged_builder.py."""

import pytest

from tests.rules.staged_builder import StagedBuilder


@pytest.fixture
def staged(tmp_path):
    return StagedBuilder(tmp_path / "audit.duckdb")


@pytest.fixture(scope="module")
def module_builder(tmp_path_factory):
    """A StagedBuilder shared by one test module: build a cohort once, classify once."""
    return StagedBuilder(tmp_path_factory.mktemp("rules") / "audit.duckdb")
