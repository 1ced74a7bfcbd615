"""The docstring examples of the public API and core modules run and pass."""

import doctest
import importlib

import pytest

MODULES = [
    "pipeline",
    "pipeline.config",
    "pipeline.codes",
    "pipeline.units",
    "pipeline.extract.privacy",
    "pipeline.explain.timeline",
    "pipeline.charts",
    "pipeline.audit.measures",
    "pipeline.engine.registry",
    "pipeline.steps",
    "schemas.staged",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
