"""The layers import one way, down the data flow (docs/architecture.md), and only the
engine knows the database: these tests read every module's imports and fail on a breach."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pipeline"

# What each layer may import from the project (besides config, codes, units, text, errors,
# paths and progress, which sit below all of them). A module-level import only; imports
# inside TYPE_CHECKING blocks are types, not dependencies.
ALLOWED = {
    "engine": set(),
    "extract": {"engine"},
    "staging": {"engine", "extract"},
    "rules": {"engine"},
    "audit": {"engine", "rules"},
    "explain": {"engine", "rules", "staging", "report"},
    "report": {"engine", "audit", "rules"},
    "synth": {"engine", "extract"},
}
BASE = {"config", "codes", "units", "text", "errors", "paths", "progress"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {
        id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }  # fmt: skip
    out = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return out


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "pipeline" and len(parts) > 1 else None


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below_it(layer):
    bad = []
    for path in (PACKAGE / layer).rglob("*.py"):
        for module in _imports(path):
            target = _layer(module)
            if target and target != layer and target not in ALLOWED[layer] | BASE:
                bad.append(f"{path.relative_to(PACKAGE.parent)} imports {module}")
    assert not bad, "\n".join(bad)


def test_only_the_engine_imports_a_database_driver_or_names_a_dialect():
    bad = []
    for path in PACKAGE.rglob("*.py"):
        if path.is_relative_to(PACKAGE / "engine"):
            continue
        text = path.read_text(encoding="utf-8")
        for module in _imports(path):
            if module.split(".")[0] in ("duckdb", "pyspark"):
                bad.append(f"{path.name} imports {module}")
        for needle in ("dialect=", ".raw_sql(", "con.con.", "BEGIN TRANSACTION"):
            if needle in text:
                bad.append(f"{path.name} uses {needle}")
    assert not bad, "\n".join(bad)


def test_rules_know_nothing_of_the_terminal_the_report_or_the_sources():
    for path in (PACKAGE / "rules").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for module in _imports(path):
            assert module.split(".")[0] not in ("typer", "rich", "jinja2", "altair", "openpyxl"), (path.name, module)
        assert "print(" not in text, path.name
