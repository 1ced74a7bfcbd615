"""Privacy guard: the pipeline is for de-identified data only.

A column whose name looks like a direct identifier (name, address, postcode, email, phone,
NHS number, MRN, SSN, exact date of birth) is refused unless the user lists it in the config
under `[privacy] allow_columns` (checked and harmless) or `drop_columns` (never read).

    >>> looks_like_identifier("Surname"), looks_like_identifier("birth_year")
    (True, False)
"""

from __future__ import annotations

import re

from pipeline.errors import UserError

_IDENTIFIER_PATTERNS = (
    r"(^|_)(first|last|given|family|full|patient|sur|fore)?_?names?$",
    r"^surname$",
    r"^forenames?$",
    r"address",
    r"post_?code",
    r"^zip(_?code)?$",
    r"e_?mail",
    r"phone",
    r"mobile",
    r"^tel(ephone)?$",
    r"nhs_?(number|no|num)",
    r"^mrn$",
    r"medical_record",
    r"^ssn$",
    r"social_security",
    r"^dob$",
    r"date_?of_?birth",
    r"birth_?date",
)
_COMPILED = tuple(re.compile(p) for p in _IDENTIFIER_PATTERNS)


def _norm(column: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", column.strip().lower()).strip("_")


def looks_like_identifier(column: str) -> bool:
    name = _norm(column)
    if name in {"drug_name", "test_name", "code_system", "coding_system", "site"}:
        return False
    return any(p.search(name) for p in _COMPILED)


def screen_columns(file_label: str, columns: list[str], config) -> list[str]:
    """Return the columns to keep; raise UserError on an identifier-like column that the
    config neither allows nor drops."""
    allow = {_norm(c) for c in config.privacy.allow_columns}
    drop = {_norm(c) for c in config.privacy.drop_columns}
    keep = []
    for col in columns:
        n = _norm(col)
        if n in drop:
            continue
        if looks_like_identifier(col) and n not in allow:
            raise UserError(
                f"{file_label}: column '{col}' looks like a direct identifier; this pipeline takes "
                f'de-identified data only. Remove it, or set [privacy] drop_columns = ["{col}"] '
                f"(or allow_columns if it is harmless) in your config file"
            )
        keep.append(col)
    return keep
