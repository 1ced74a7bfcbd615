"""Run the staged tables' Pandera models in the database (pandera.ibis: no pull into pandas)."""

import pandera.errors

from schemas.diagnoses import StagedDiagnoses
from schemas.dispensings import StagedDispensings
from schemas.labs import StagedLabs
from schemas.patients import StagedPatients
from schemas.prescriptions import StagedPrescriptions

STAGED_MODELS = {"patients": StagedPatients, "labs": StagedLabs, "prescriptions": StagedPrescriptions,
                 "dispensings": StagedDispensings, "diagnoses": StagedDiagnoses}


class StagedContractError(RuntimeError):
    """A staged table broke its model after the row checks: a bug in staging, not in the data."""


def check_staged(table: str, expr) -> None:
    try:
        STAGED_MODELS[table].validate(expr, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        raise StagedContractError(f"stg_{table} breaks its Pandera model:\n{exc.failure_cases}") from None
