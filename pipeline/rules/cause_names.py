"""The causes of iron failure the rules can find, in clinical order (common causes first).

A vocabulary, not a rule: `rules.causes` finds them; the config checks `[causes] precedence`
against this list without loading the rule code (and Ibis).
"""

CAUSES = (
    "low_dose",
    "short_course",
    "non_adherence",
    "adherence_unknown",
    "blood_loss",
    "malabsorption",
    "inflammation",
    "wrong_diagnosis",
    "marrow",
    "haemolysis",
    "irida_suspected",
    "unexplained",
)
