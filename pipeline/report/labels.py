"""Plain words for the report: what each headline item and each failure cause means."""

from __future__ import annotations

ITEMS = {
    "iron_untested": "Iron started without a prior iron test",
    "iron_tested_after_only": "Iron: tested only after the start",
    "b12_untested": "Vitamin B12 started without a prior B12 test",
    "b12_tested_after_only": "Vitamin B12: tested only after the start",
    "folate_untested": "Folic acid started without a prior folate test",
    "folate_tested_after_only": "Folic acid: tested only after the start",
    "b12_just_in_case": "B12 given with iron 'just in case' (no test showing deficiency)",
    "folate_just_in_case": "Folic acid given with iron 'just in case' (no test showing deficiency)",
    "iron_failed": "Iron treatment failed (of episodes with a baseline and follow-up Hb)",
    "iron_not_assessable": "Iron episodes that could not be assessed (no baseline or no follow-up Hb)",
}

CAUSES = {
    "low_dose": "Dose too low",
    "short_course": "Course too short",
    "non_adherence": "Tablets not taken (few pharmacy collections)",
    "adherence_unknown": "Adherence unknown (no pharmacy data)",
    "blood_loss": "Ongoing blood loss",
    "malabsorption": "Malabsorption",
    "inflammation": "Inflammation or chronic disease",
    "wrong_diagnosis": "Wrong diagnosis (not iron deficiency)",
    "marrow": "Marrow disease or marrow-toxic drugs",
    "haemolysis": "Haemolysis",
    "irida_suspected": "Suspected IRIDA (iron-refractory iron deficiency)",
    "unexplained": "No cause found in the data",
}


def item_label(item: str) -> str:
    if item.startswith("cause_"):
        return CAUSES[item.removeprefix("cause_")]
    return ITEMS[item]
