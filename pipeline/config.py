"""The audit configuration: typed, frozen, checked once when it is loaded.

`defaults.toml` gives every value with its source (`key = { value = ..., source = "..." }`);
an override file (`--config FILE`) gives plain values (`[testing] lookback_days = 120`).
Each section is a frozen dataclass below, which declares the type and the allowed range of
every key. Loading refuses, with one `UserError` naming the file and key: unknown sections
or keys, wrong types, NaN and infinities, values out of range, list entries the code lists
do not know, and contradictory pairs (a follow-up window that ends before it starts). Every
step then receives the same checked `Config`:

    >>> cfg = load_config()
    >>> cfg.testing.lookback_days
    90
    >>> cfg.source("testing", "lookback_days")[:8]
    'RULES.md'
    >>> load_config_from({"response": {"min_rise_g_l": float("nan")}})
    Traceback (most recent call last):
    ...
    pipeline.errors.UserError: overrides: response.min_rise_g_l must be a finite number, got nan
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from pipeline.errors import UserError
from pipeline.paths import DEFAULTS_TOML


def num(ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None):
    """A numeric field with its allowed range."""
    return field(metadata={"ge": ge, "gt": gt, "le": le, "lt": lt})


def choice(*values: str):
    """A text field that must be one of `values`."""
    return field(metadata={"choices": values})


def codes(kind: str):
    """A list field whose entries must be known `kind`s (condition group, drug class, test, cause)."""
    return field(metadata={"codes": kind})


@dataclass(frozen=True)
class Episodes:
    washout_days: int = num(ge=0)
    gap_days: int = num(ge=0)
    default_course_days: int = num(ge=1)


@dataclass(frozen=True)
class Testing:
    lookback_days: int = num(ge=0)
    after_days: int = num(ge=0)
    iron_tests: tuple[str, ...] = codes("test")
    b12_tests: tuple[str, ...] = codes("test")
    folate_tests: tuple[str, ...] = codes("test")


@dataclass(frozen=True)
class Deficiency:
    ferritin_deficient_ug_l: float = num(gt=0)
    ferritin_inflamed_deficient_ug_l: float = num(gt=0)
    crp_inflamed_mg_l: float = num(ge=0)
    tsat_deficient_pct: float = num(gt=0, le=100)
    b12_deficient_pmol_l: float = num(gt=0)
    b12_indeterminate_pmol_l: float = num(gt=0)
    folate_deficient_nmol_l: float = num(gt=0)
    crp_window_days: int = num(ge=0)


@dataclass(frozen=True)
class Anaemia:
    hb_cutoff_women_g_l: float = num(gt=0, le=250)
    hb_cutoff_men_g_l: float = num(gt=0, le=250)
    hb_cutoff_unknown_sex_g_l: float = num(gt=0, le=250)
    hb_cutoff_pregnant_g_l: float = num(gt=0, le=250)
    hb_cutoff_pregnant_second_trimester_g_l: float = num(gt=0, le=250)
    hb_cutoff_6_23_months_g_l: float = num(gt=0, le=250)
    hb_cutoff_24_59_months_g_l: float = num(gt=0, le=250)
    hb_cutoff_5_11_years_g_l: float = num(gt=0, le=250)
    hb_cutoff_12_14_years_g_l: float = num(gt=0, le=250)
    second_trimester_from_day: int = num(ge=1, le=300)
    third_trimester_from_day: int = num(ge=1, le=300)
    birth_year_assumed_month: int = num(ge=1, le=12)


@dataclass(frozen=True)
class Coprescribing:
    window_days: int = num(ge=0)
    pregnancy_conditions: tuple[str, ...] = codes("condition group")
    pregnancy_diagnosis_window_days: int = num(ge=0)
    pregnancy_default_days: int = num(ge=1)
    methotrexate_drug_classes: tuple[str, ...] = codes("drug class")
    methotrexate_window_days: int = num(ge=0)
    pernicious_anaemia_conditions: tuple[str, ...] = codes("condition group")
    gastrectomy_conditions: tuple[str, ...] = codes("condition group")


@dataclass(frozen=True)
class Response:
    baseline_days: int = num(ge=0)
    followup_from_day: int = num(ge=0)
    followup_to_day: int = num(ge=0)
    min_rise_g_l: float = num(ge=0, le=100)
    escalation_drug_classes: tuple[str, ...] = codes("drug class")
    hb_method_preference: tuple[str, ...] = codes("hb method")
    hb_same_time_minutes: int = num(ge=0, le=1440)


@dataclass(frozen=True)
class Causes:
    min_elemental_iron_mg_per_day: float = num(ge=0)
    adherence_pdc_min: float = num(ge=0, le=1)
    drug_window_days_before: int = num(ge=0)
    marrow_toxic_lookback_days: int = num(ge=0)
    labs_near_baseline_days: int = num(ge=0)
    crp_inflammation_mg_l: float = num(ge=0)
    mentzer_max: float = num(gt=0)
    low_mcv_fl: float = num(gt=0)
    irida_mcv_max_fl: float = num(gt=0)
    irida_tsat_max_pct: float = num(gt=0, le=100)
    irida_ferritin_min_ug_l: float = num(ge=0)
    low_wbc_10e9_l: float = num(ge=0)
    low_platelets_10e9_l: float = num(ge=0)
    high_ldh_u_l: float = num(gt=0)
    low_haptoglobin_g_l: float = num(ge=0)
    high_reticulocytes_pct: float = num(ge=0, le=100)
    high_bilirubin_umol_l: float = num(gt=0)
    blood_loss_conditions: tuple[str, ...] = codes("condition group")
    blood_loss_drug_classes: tuple[str, ...] = codes("drug class")
    malabsorption_conditions: tuple[str, ...] = codes("condition group")
    malabsorption_drug_classes: tuple[str, ...] = codes("drug class")
    inflammation_conditions: tuple[str, ...] = codes("condition group")
    wrong_diagnosis_conditions: tuple[str, ...] = codes("condition group")
    marrow_conditions: tuple[str, ...] = codes("condition group")
    marrow_drug_classes: tuple[str, ...] = codes("drug class")
    haemolysis_conditions: tuple[str, ...] = codes("condition group")
    irida_conditions: tuple[str, ...] = codes("condition group")
    precedence: tuple[str, ...] = codes("cause")


@dataclass(frozen=True)
class Disclosure:
    threshold: int = num(ge=0)
    rounding: int = num(ge=0)


@dataclass(frozen=True)
class Privacy:
    allow_columns: tuple[str, ...] = field(default=())
    drop_columns: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Validation:
    min_year: int = num(ge=1800, le=2100)
    max_units_per_dose: float = num(gt=0)
    max_doses_per_day: float = num(gt=0)
    max_elemental_iron_mg_per_day: float = num(gt=0)
    max_duration_days: int = num(ge=1)


@dataclass(frozen=True)
class Mimic:
    shift_dates_to_anchor_year_group: bool = field(default=True)


@dataclass(frozen=True)
class Report:
    confidence: float = num(gt=0, lt=1)
    spc_sigma: float = num(gt=0)
    spc_run_length: int = num(ge=1)
    funnel_inner: float = num(gt=0, lt=1)
    funnel_outer: float = num(gt=0, lt=1)
    age_band_years: int = num(ge=1)
    age_band_top: int = num(ge=1)
    top_quarantine_reasons: int = num(ge=1)
    top_unmapped_names: int = num(ge=1)
    trend_grain: str = choice("auto", "month", "quarter", "year")
    funnel_min_groups: int = num(ge=1)
    trend_min_released_share: float = num(ge=0, le=1)


@dataclass(frozen=True)
class Engine:
    """Where and how the steps run. DuckDB settings: '' or 0 keep DuckDB's default."""

    memory_limit: str = field(metadata={})
    threads: int = num(ge=0, le=1024)
    temp_directory: str = field(metadata={})
    disabled_compression_methods: str = field(metadata={})


@dataclass(frozen=True)
class Standards:
    """Audit standards per measure: `<measure>_max` (at most) or `<measure>_min` (at least)."""

    iron_untested_max: float = num(ge=0, le=1)
    b12_untested_max: float = num(ge=0, le=1)
    folate_untested_max: float = num(ge=0, le=1)
    tested_after_only_max: float = num(ge=0, le=1)
    treated_despite_normal_max: float = num(ge=0, le=1)
    just_in_case_max: float = num(ge=0, le=1)
    iron_monitored_min: float = num(ge=0, le=1)
    iron_failed_max: float = num(ge=0, le=1)


SECTIONS: dict[str, type] = {
    "episodes": Episodes,
    "testing": Testing,
    "deficiency": Deficiency,
    "anaemia": Anaemia,
    "coprescribing": Coprescribing,
    "response": Response,
    "causes": Causes,
    "disclosure": Disclosure,
    "privacy": Privacy,
    "validation": Validation,
    "mimic": Mimic,
    "report": Report,
    "standards": Standards,
    "engine": Engine,
}


@dataclass(frozen=True)
class Config:
    """The checked configuration: one frozen section per `[section]` of defaults.toml."""

    episodes: Episodes
    testing: Testing
    deficiency: Deficiency
    anaemia: Anaemia
    coprescribing: Coprescribing
    response: Response
    causes: Causes
    disclosure: Disclosure
    privacy: Privacy
    validation: Validation
    mimic: Mimic
    report: Report
    standards: Standards
    engine: Engine
    origin: str = "defaults"
    sources: Mapping[str, Mapping[str, str]] = field(default_factory=dict, compare=False, repr=False)

    def source(self, section: str, key: str) -> str:
        """The documented source of a default value."""
        return self.sources[section][key]

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {
            s: {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(getattr(self, s)).items()}
            for s in SECTIONS
        }

    def hash(self) -> str:
        """SHA-256 of the effective values, for the report manifest."""
        blob = json.dumps(self.as_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()

    def differences(self) -> list[tuple[str, str, Any, Any]]:
        """(section, key, default, value) for every value that differs from defaults.toml."""
        base, mine = load_defaults().as_dict(), self.as_dict()
        return [(s, k, base[s][k], v) for s in SECTIONS for k, v in mine[s].items() if base[s][k] != v]

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]], origin: str = "overrides") -> Config:
        """A new Config with some values changed, checked like an override file."""
        values = self.as_dict()
        for section, keys in overrides.items():
            if section not in values:
                raise UserError(f"{origin}: unknown config section [{section}]; known: {', '.join(sorted(values))}")
            if not isinstance(keys, Mapping):
                raise UserError(f"{origin}: [{section}] must be a table of key = value")
            for key, new in keys.items():
                if key not in values[section]:
                    raise UserError(
                        f"{origin}: unknown config key {section}.{key}; known in [{section}]: "
                        f"{', '.join(sorted(values[section]))}"
                    )
                values[section][key] = new
        return build(values, dict(self.sources), origin)


# ---------------------------------------------------------------- checking
def _coerce(new: Any, hint: Any, key: str, origin: str) -> Any:
    if hint is bool:
        ok = isinstance(new, bool)
    elif hint is float:
        ok = isinstance(new, (int, float)) and not isinstance(new, bool)
        new = float(new) if ok else new
    elif hint is int:
        ok = isinstance(new, int) and not isinstance(new, bool)
    elif hint == tuple[str, ...]:
        ok = isinstance(new, (list, tuple)) and all(isinstance(v, str) for v in new)
        new = tuple(new) if ok else new
    elif hint is str:
        ok = isinstance(new, str)
    else:
        ok = isinstance(new, hint)
    if not ok:
        kind = {bool: "true or false", float: "a number", int: "a whole number", str: "text"}.get(
            hint, "a list of strings"
        )
        raise UserError(f"{origin}: {key} must be {kind}, got {new!r}")
    return new


def _check_range(value: Any, meta: Mapping, key: str, origin: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    if not math.isfinite(value):
        raise UserError(f"{origin}: {key} must be a finite number, got {value!r}")
    bounds = (("ge", "at least", lambda v, b: v >= b), ("gt", "above", lambda v, b: v > b),
              ("le", "at most", lambda v, b: v <= b), ("lt", "below", lambda v, b: v < b))  # fmt: skip
    for name, words, ok in bounds:
        bound = meta.get(name)
        if bound is not None and not ok(value, bound):
            raise UserError(f"{origin}: {key} must be {words} {bound:g}, got {value!r}")


def _section(cls: type, values: Mapping[str, Any], name: str, origin: str):
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(
            f"{origin}: unknown config key {name}.{unknown[0]}; known in [{name}]: {', '.join(sorted(known))}"
        )
    out = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            raise UserError(f"{origin}: {name}.{f.name} is missing")
        value = _coerce(values[f.name], hints[f.name], f"{name}.{f.name}", origin)
        _check_range(value, f.metadata, f"{name}.{f.name}", origin)
        choices = f.metadata.get("choices")
        if choices and value not in choices:
            raise UserError(f"{origin}: {name}.{f.name} must be one of {', '.join(choices)}, got {value!r}")
        out[f.name] = value
    return cls(**out)


def _known_codes() -> dict[str, set[str]]:
    from pipeline.codes import load_condition_codes, load_drug_codes, load_hb_methods, load_lab_codes
    from pipeline.rules.cause_names import CAUSES  # the causes the rule code can find (vocabulary, no rule)

    return {
        "condition group": set(load_condition_codes().condition_group),
        "drug class": set(load_drug_codes().drug_class.dropna()),
        "test": set(load_lab_codes().analyte) | {"iron_with_tibc_or_transferrin"},
        "cause": set(CAUSES),
        "hb method": set(load_hb_methods().method) | {"unspecified"},
    }


def _check_codes(cfg: Config) -> None:
    """List values the rules cannot use would silently match nothing: refuse them."""
    known = _known_codes()
    for name in SECTIONS:
        section = getattr(cfg, name)
        for f in dataclasses.fields(section):
            kind = f.metadata.get("codes")
            unknown = sorted(set(getattr(section, f.name)) - known.get(kind, set())) if kind else []
            if unknown:
                raise UserError(
                    f"{cfg.origin}: {name}.{f.name} has unknown {kind} {', '.join(map(repr, unknown))}; "
                    f"known: {', '.join(sorted(known[kind]))}"
                )
    if sorted(cfg.causes.precedence) != sorted(known["cause"]):
        raise UserError(f"{cfg.origin}: causes.precedence must list every cause exactly once: "
                        f"{', '.join(sorted(known['cause']))}")  # fmt: skip


def _check_pairs(cfg: Config) -> None:
    pairs = (
        ("response.followup_from_day", cfg.response.followup_from_day, "response.followup_to_day",
         cfg.response.followup_to_day),
        ("deficiency.b12_deficient_pmol_l", cfg.deficiency.b12_deficient_pmol_l, "deficiency.b12_indeterminate_pmol_l",
         cfg.deficiency.b12_indeterminate_pmol_l),
        ("deficiency.ferritin_deficient_ug_l", cfg.deficiency.ferritin_deficient_ug_l,
         "deficiency.ferritin_inflamed_deficient_ug_l", cfg.deficiency.ferritin_inflamed_deficient_ug_l),
        ("report.funnel_inner", cfg.report.funnel_inner, "report.funnel_outer", cfg.report.funnel_outer),
        ("anaemia.second_trimester_from_day", cfg.anaemia.second_trimester_from_day,
         "anaemia.third_trimester_from_day", cfg.anaemia.third_trimester_from_day),
    )  # fmt: skip
    for low_key, low, high_key, high in pairs:
        if low > high:
            raise UserError(f"{cfg.origin}: {low_key} ({low:g}) must not be above {high_key} ({high:g})")


def build(values: Mapping[str, Mapping[str, Any]], sources: Mapping, origin: str) -> Config:
    """A checked Config from plain values per section."""
    unknown = sorted(set(values) - set(SECTIONS))
    if unknown:
        raise UserError(f"{origin}: unknown config section [{unknown[0]}]; known: {', '.join(sorted(SECTIONS))}")
    sections = {name: _section(cls, values.get(name, {}), name, origin) for name, cls in SECTIONS.items()}
    cfg = Config(**sections, origin=origin, sources=sources)
    _check_pairs(cfg)
    _check_codes(cfg)
    return cfg


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise UserError(f"config file is a folder: {path}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None


_DEFAULTS: Config | None = None


def load_defaults() -> Config:
    """defaults.toml as a checked Config (read once per process)."""
    global _DEFAULTS
    if _DEFAULTS is None:
        raw = _read_toml(DEFAULTS_TOML)
        values = {s: {k: spec["value"] for k, spec in keys.items()} for s, keys in raw.items()}
        sources = {s: {k: spec["source"] for k, spec in keys.items()} for s, keys in raw.items()}
        _DEFAULTS = build(values, sources, "defaults")
    return _DEFAULTS


def load_config(path: str | Path | None = None) -> Config:
    """Defaults, overridden by the TOML file at `path` when given."""
    cfg = load_defaults()
    if path is None:
        return cfg
    path = Path(path)
    return cfg.with_overrides(_read_toml(path), origin=str(path))


def load_config_from(overrides: Mapping[str, Mapping[str, Any]], origin: str = "overrides") -> Config:
    """Defaults changed by `overrides` ({"section": {"key": value}})."""
    return load_defaults().with_overrides(overrides, origin)
