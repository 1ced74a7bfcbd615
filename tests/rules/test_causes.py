"""Why iron failed: each cause just inside / outside its threshold or window, evidence rows,
IRIDA only when nothing else applies, unexplained, and the primary cause by precedence.

Every scenario starts from a failed oral iron episode with no cause: deficient ferritin before
the start, Hb 100 -> 102 g/L (day 28), 65 mg elemental iron/day for 56 days, fully dispensed."""

import pytest

from tests.rules.staged_builder import day, one, outcome, patient_causes


def failed_iron(
    s, pid, *, ferritin=12, elemental=65.0, days_supply=56, dispensed=56, fu_day=28, sex="F", route_class="iron_oral"
):
    s.patient(pid, sex=sex)
    if ferritin is not None:
        s.lab(pid, day(-10), "ferritin", ferritin)
    s.lab(pid, day(-1), "hb", 100)
    s.lab(pid, day(fu_day), "hb", 102)
    rid = s.rx(pid, day(0), route_class, days_supply=days_supply, elemental=elemental)
    if dispensed:
        s.disp(pid, day(0), days_supply=dispensed)
    return rid


def irida_labs(s, pid, tsat=5, mcv=65, ferritin=20):
    """Marked microcytosis, very low TSAT, ferritin not very low (>= 15) yet below 30, so the
    ferritin (which decides iron status) shows deficiency and wrong_diagnosis is not found."""
    s.lab(pid, day(-10), "tsat", tsat)
    s.lab(pid, day(-10), "mcv", mcv)
    s.lab(pid, day(-10), "ferritin", ferritin)


@pytest.fixture(scope="module")
def out(module_builder):
    s = module_builder
    ids = {}
    failed_iron(s, "NONE")
    ids["DOSE29"] = failed_iron(s, "DOSE29", elemental=29.0)
    failed_iron(s, "DOSE30", elemental=30.0)
    failed_iron(s, "DOSE_NULL", elemental=None)
    ids["SHORT"] = failed_iron(s, "SHORT", days_supply=28)  # last supply day 27 < follow-up day 28
    failed_iron(s, "SHORT_EQ", days_supply=29)  # last supply day 28 = follow-up day
    failed_iron(s, "SHORT_UNKNOWN", days_supply=None)
    failed_iron(s, "PDC_80", dispensed=24, fu_day=29)  # 24 / 30 days
    ids["PDC_77"] = failed_iron(s, "PDC_77", dispensed=23, fu_day=29)
    failed_iron(s, "PDC_OVERLAP", dispensed=None, fu_day=29)  # 15 days + overlapping 10 days = 15 / 30
    s.disp("PDC_OVERLAP", day(0), days_supply=15)
    s.disp("PDC_OVERLAP", day(5), days_supply=10)
    failed_iron(s, "NO_DISP", dispensed=None)
    failed_iron(s, "OTHER_DISP_ONLY", dispensed=None)
    s.disp("OTHER_DISP_ONLY", day(0), "b12")
    ids["BLEED90"] = None
    failed_iron(s, "BLEED90")
    ids["BLEED90"] = s.dx("BLEED90", day(-90), "gi_bleeding", "K922")
    failed_iron(s, "BLEED91")
    s.dx("BLEED91", day(-91), "gi_bleeding", "K922")
    failed_iron(s, "ANTICOAG_IN")
    s.rx("ANTICOAG_IN", day(-117), "anticoagulant")  # supply ends day -90
    failed_iron(s, "ANTICOAG_OUT")
    s.rx("ANTICOAG_OUT", day(-118), "anticoagulant")
    failed_iron(s, "COELIAC")
    s.dx("COELIAC", day(-2000), "coeliac", "K900")
    failed_iron(s, "PPI_DISP")
    ids["PPI_DISP"] = s.disp("PPI_DISP", day(5), "ppi")
    failed_iron(s, "CRP6")
    ids["CRP6"] = s.lab("CRP6", day(-30), "crp", 6)
    failed_iron(s, "CRP5")
    s.lab("CRP5", day(-30), "crp", 5)
    failed_iron(s, "CRP_FAR")
    s.lab("CRP_FAR", day(-31), "crp", 50)
    failed_iron(s, "CKD")
    s.dx("CKD", day(-500), "ckd", "N184")
    ids["FER150"] = None
    failed_iron(s, "FER150", ferritin=None)
    ids["FER150"] = s.lab("FER150", day(-10), "ferritin", 150)
    failed_iron(s, "THAL")
    ids["THAL"] = s.dx("THAL", day(-900), "thalassaemia", "D563")
    failed_iron(s, "MENTZER", ferritin=150)
    ids["MENTZER"] = s.lab("MENTZER", day(-5), "mcv", 70)
    s.lab("MENTZER", day(-5), "rbc", 6)
    failed_iron(s, "B12LOW")
    s.lab("B12LOW", day(5), "b12", 140)
    failed_iron(s, "MDS")
    s.dx("MDS", day(-100), "marrow_failure", "D46")
    failed_iron(s, "CHEMO_IN")
    s.rx("CHEMO_IN", day(-210), "antineoplastic")  # supply ends day -183
    failed_iron(s, "CHEMO_OUT")
    s.rx("CHEMO_OUT", day(-211), "antineoplastic")
    failed_iron(s, "WBC34")
    s.lab("WBC34", day(2), "wbc", 3.4)
    failed_iron(s, "WBC35")
    s.lab("WBC35", day(2), "wbc", 3.5)
    failed_iron(s, "PLT149")
    s.lab("PLT149", day(2), "platelets", 149)
    failed_iron(s, "LDH_HAPTO")
    ids["LDH_HAPTO"] = s.lab("LDH_HAPTO", day(-3), "ldh", 300)
    s.lab("LDH_HAPTO", day(-2), "haptoglobin", 0.2)
    failed_iron(s, "LDH_ONLY")
    s.lab("LDH_ONLY", day(-3), "ldh", 300)
    failed_iron(s, "RETIC_BILI")
    s.lab("RETIC_BILI", day(-3), "reticulocytes_pct", 3)
    s.lab("RETIC_BILI", day(-3), "bilirubin", 25)
    failed_iron(s, "HAEM_DX")
    s.dx("HAEM_DX", day(-10), "haemolytic", "D59")
    failed_iron(s, "IRIDA", ferritin=None)
    irida_labs(s, "IRIDA")
    failed_iron(s, "IRIDA_TSAT10", ferritin=None)
    irida_labs(s, "IRIDA_TSAT10", tsat=10)
    failed_iron(s, "IRIDA_MCV70", ferritin=None)
    irida_labs(s, "IRIDA_MCV70", mcv=70)
    failed_iron(s, "IRIDA_FER14", ferritin=None)
    irida_labs(s, "IRIDA_FER14", ferritin=14)
    failed_iron(s, "IRIDA_DERIVED", ferritin=None)
    s.lab("IRIDA_DERIVED", day(-10), "iron", 3)
    s.lab("IRIDA_DERIVED", day(-10), "tibc", 80)
    s.lab("IRIDA_DERIVED", day(-10), "mcv", 65)
    s.lab("IRIDA_DERIVED", day(-10), "ferritin", 20)
    failed_iron(s, "IRIDA_FER40", ferritin=None)
    irida_labs(s, "IRIDA_FER40", ferritin=40)  # ferritin >= 30 decides: not deficient
    failed_iron(s, "IRIDA_NODISP", ferritin=None, dispensed=None)
    irida_labs(s, "IRIDA_NODISP")
    failed_iron(s, "IRIDA_LOWDOSE", ferritin=None, elemental=20.0)
    irida_labs(s, "IRIDA_LOWDOSE")
    failed_iron(s, "IRIDA_DOSE_UNKNOWN", ferritin=None, elemental=None)
    irida_labs(s, "IRIDA_DOSE_UNKNOWN")
    failed_iron(s, "IRIDA_BLEED", ferritin=None)
    irida_labs(s, "IRIDA_BLEED")
    s.dx("IRIDA_BLEED", day(-5), "gi_bleeding", "K922")
    failed_iron(s, "DOSE_AND_BLEED", elemental=20.0)
    s.dx("DOSE_AND_BLEED", day(-5), "gi_bleeding", "K922")
    failed_iron(s, "BLEED_AND_MDS")
    s.dx("BLEED_AND_MDS", day(-5), "gi_bleeding", "K922")
    s.dx("BLEED_AND_MDS", day(-5), "marrow_failure", "D46")
    failed_iron(s, "IV_NODISP", route_class="iron_iv", dispensed=None, days_supply=1)
    # the course: continuous supply from the start, only orders started by the assessment
    for pid, second_start, expect_short in [
        ("COURSE_GAP", day(12), True),  # supply days 0-9, next order 3 days later: a gap
        ("COURSE_ADJ", day(10), False),  # next order the day after: adjacent, course to day 65
    ]:
        rid = failed_iron(s, pid, days_supply=10, dispensed=56)
        s.rx(pid, second_start, "iron_oral", days_supply=56)
        if expect_short:
            ids[pid] = rid
    for pid, order_time in [("COURSE_AFTER_HB", "18:00"), ("COURSE_BEFORE_HB", "08:00")]:
        # demo iron-112830: follow-up Hb on day 20, a new order the same evening
        s.patient(pid)
        s.lab(pid, day(-10), "ferritin", 12)
        s.lab(pid, day(-1), "hb", 100)
        s.lab(pid, day(20, "09:00"), "hb", 102)
        rid = s.rx(pid, day(0, "10:00"), "iron_oral", days_supply=20)  # supply days 0-19
        s.rx(pid, day(20, order_time), "iron_oral", days_supply=90)
        s.disp(pid, day(0), days_supply=56)
        ids[pid] = rid
    # ferritin decides iron status: a high ferritin with a low TSAT and a raised CRP is the
    # anaemia-of-inflammation pattern (MIMIC demo: ferritin 1,105 ug/L, CRP 146 mg/L)
    failed_iron(s, "INFL_PATTERN", ferritin=None)
    ids["INFL_PATTERN"] = s.lab("INFL_PATTERN", day(-10), "ferritin", 1105)
    s.lab("INFL_PATTERN", day(-5), "tsat", 12)
    s.lab("INFL_PATTERN", day(-3), "crp", 146)
    failed_iron(s, "FER99_INFLAMED", ferritin=None)
    s.lab("FER99_INFLAMED", day(-10), "ferritin", 99)
    s.lab("FER99_INFLAMED", day(-5), "tsat", 12)
    s.lab("FER99_INFLAMED", day(-3), "crp", 146)
    failed_iron(s, "FERNULL_TSAT12", ferritin=None)
    s.lab("FERNULL_TSAT12", day(-10), "ferritin", None)
    s.lab("FERNULL_TSAT12", day(-5), "tsat", 12)
    failed_iron(s, "FERNULL_TSAT25", ferritin=None)
    s.lab("FERNULL_TSAT25", day(-10), "ferritin", None)
    ids["FERNULL_TSAT25"] = s.lab("FERNULL_TSAT25", day(-5), "tsat", 25)
    return s.classify() | {"ids": ids}


@pytest.mark.parametrize(
    "pid, causes",
    [
        ("NONE", ["unexplained"]),
        ("DOSE29", ["low_dose"]),
        ("DOSE30", ["unexplained"]),
        ("DOSE_NULL", ["unexplained"]),
        ("SHORT", ["short_course"]),
        ("SHORT_EQ", ["unexplained"]),
        ("SHORT_UNKNOWN", ["unexplained"]),
        ("PDC_80", ["unexplained"]),
        ("PDC_77", ["non_adherence"]),
        ("PDC_OVERLAP", ["non_adherence"]),
        ("NO_DISP", ["adherence_unknown"]),
        ("OTHER_DISP_ONLY", ["non_adherence"]),
        ("BLEED90", ["blood_loss"]),
        ("BLEED91", ["unexplained"]),
        ("ANTICOAG_IN", ["blood_loss"]),
        ("ANTICOAG_OUT", ["unexplained"]),
        ("COELIAC", ["malabsorption"]),
        ("PPI_DISP", ["malabsorption"]),
        ("CRP6", ["inflammation"]),
        ("CRP5", ["unexplained"]),
        ("CRP_FAR", ["unexplained"]),
        ("CKD", ["inflammation"]),
        ("FER150", ["wrong_diagnosis"]),
        ("THAL", ["wrong_diagnosis"]),
        ("MENTZER", ["wrong_diagnosis"]),
        ("B12LOW", ["wrong_diagnosis"]),
        ("MDS", ["marrow"]),
        ("CHEMO_IN", ["marrow"]),
        ("CHEMO_OUT", ["unexplained"]),
        ("WBC34", ["marrow"]),
        ("WBC35", ["unexplained"]),
        ("PLT149", ["marrow"]),
        ("LDH_HAPTO", ["haemolysis"]),
        ("LDH_ONLY", ["unexplained"]),
        ("RETIC_BILI", ["haemolysis"]),
        ("HAEM_DX", ["haemolysis"]),
        ("IRIDA", ["irida_suspected"]),
        ("IRIDA_TSAT10", ["unexplained"]),
        ("IRIDA_MCV70", ["unexplained"]),
        ("IRIDA_FER14", ["unexplained"]),
        ("IRIDA_DERIVED", ["irida_suspected"]),
        ("IRIDA_FER40", ["wrong_diagnosis"]),  # a cause is found, so IRIDA is never suggested
        ("IRIDA_NODISP", ["adherence_unknown"]),
        ("IRIDA_LOWDOSE", ["low_dose"]),
        ("IRIDA_DOSE_UNKNOWN", ["unexplained"]),
        ("IRIDA_BLEED", ["blood_loss"]),
        ("DOSE_AND_BLEED", ["blood_loss", "low_dose"]),
        ("BLEED_AND_MDS", ["blood_loss", "marrow"]),
        ("IV_NODISP", ["unexplained"]),  # adherence is not asked of intravenous iron
        ("COURSE_GAP", ["short_course"]),
        ("COURSE_ADJ", ["unexplained"]),
        ("COURSE_AFTER_HB", ["short_course"]),  # the order after the follow-up Hb does not count
        ("COURSE_BEFORE_HB", ["unexplained"]),
        ("INFL_PATTERN", ["inflammation", "wrong_diagnosis"]),
        ("FER99_INFLAMED", ["inflammation"]),  # ferritin < 100 with CRP > 5: deficiency shown
        ("FERNULL_TSAT12", ["unexplained"]),  # ferritin without a value: TSAT decides, deficient
        ("FERNULL_TSAT25", ["wrong_diagnosis"]),
    ],
)
def test_causes(out, pid, causes):
    assert outcome(out, pid).outcome == "failed"
    assert patient_causes(out, pid) == causes


@pytest.mark.parametrize(
    "pid, primary",
    [
        ("DOSE_AND_BLEED", "low_dose"),
        ("BLEED_AND_MDS", "blood_loss"),
        ("NONE", "unexplained"),
        ("IRIDA", "irida_suspected"),
        ("NO_DISP", "adherence_unknown"),
    ],
)
def test_primary_cause_follows_precedence(out, pid, primary):
    assert outcome(out, pid).primary_cause == primary


@pytest.mark.parametrize(
    "pid, table",
    [
        ("DOSE29", "stg_prescriptions"),
        ("SHORT", "stg_prescriptions"),
        ("COURSE_GAP", "stg_prescriptions"),
        ("COURSE_AFTER_HB", "stg_prescriptions"),
        ("BLEED90", "stg_diagnoses"),
        ("PPI_DISP", "stg_dispensings"),
        ("CRP6", "stg_labs"),
        ("FER150", "stg_labs"),
        ("THAL", "stg_diagnoses"),
        ("MENTZER", "stg_labs"),
        ("LDH_HAPTO", "stg_labs"),
    ],
)
def test_evidence_points_at_the_supporting_row(out, pid, table):
    row = one(out["failure_causes"], patient_id=pid)
    assert (row.evidence_table, row.evidence_row_id) == (table, out["ids"][pid])
    assert isinstance(row.evidence, str) and len(row.evidence) > 10


@pytest.mark.parametrize("pid", ["INFL_PATTERN", "FERNULL_TSAT25"])
def test_wrong_diagnosis_evidence_is_the_deciding_test(out, pid):
    """The ferritin when one was measured (not the later low TSAT), else the TSAT."""
    fc = out["failure_causes"]
    row = one(fc, patient_id=pid, cause="wrong_diagnosis")
    assert (row.evidence_table, row.evidence_row_id) == ("stg_labs", out["ids"][pid])
    assert "did not show iron deficiency" in row.evidence


def test_every_cause_row_has_readable_evidence(out):
    fc = out["failure_causes"]
    assert fc.evidence.notna().all() and (fc.evidence.str.len() > 10).all()
    assert fc.groupby(["episode_id", "cause"]).size().max() == 1


def test_only_failed_episodes_have_causes(out):
    failed = set(out["iron_outcomes"].query("outcome == 'failed'").episode_id)
    assert set(out["failure_causes"].episode_id) == failed


def test_precedence_override_changes_primary_cause(staged):
    failed_iron(staged, "P", elemental=20.0)
    staged.dx("P", day(-5), "gi_bleeding", "K922")
    precedence = [
        "blood_loss",
        "low_dose",
        "short_course",
        "non_adherence",
        "adherence_unknown",
        "malabsorption",
        "inflammation",
        "wrong_diagnosis",
        "marrow",
        "haemolysis",
        "irida_suspected",
        "unexplained",
    ]
    out = staged.classify(overrides={"causes": {"precedence": precedence}})
    assert outcome(out, "P").primary_cause == "blood_loss"


def test_without_dispensings_table_oral_iron_adherence_is_unknown(staged):
    failed_iron(staged, "P")
    failed_iron(staged, "Q", ferritin=None)
    irida_labs(staged, "Q")
    out = staged.classify(dispensings=False)
    assert patient_causes(out, "P") == ["adherence_unknown"]
    assert patient_causes(out, "Q") == ["adherence_unknown"]  # so never IRIDA


def test_without_diagnoses_table_coded_causes_are_not_found(staged):
    failed_iron(staged, "P")
    staged.dx("P", day(-5), "gi_bleeding", "K922")
    out = staged.classify(diagnoses=False)
    assert patient_causes(out, "P") == ["unexplained"]
