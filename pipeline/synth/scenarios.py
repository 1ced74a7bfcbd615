"""The planted scenarios: each function writes one kind of patient (all of them in a chunk at
once) and their truth rows. Labels follow docs/rules.md; numbers come from the config."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pipeline.synth.builder import Group
from pipeline.synth.events import (
    COMBINATION,
    CYANOCOBALAMIN,
    FOLIC_ACID,
    HYDROXOCOBALAMIN,
    IV_IRON,
    IV_IRON_SUCROSE,
    LOW_DOSE_IRON,
    METHOTREXATE,
    NAPROXEN,
    OMEPRAZOLE,
    ORAL_IRON,
    diagnosis,
    dispensing,
    lab,
    lab_text,
    prescription,
    truth,
)

SCENARIOS: dict[str, Callable] = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


class Levels:
    """Planted lab values, derived from the configured cut-offs with a wide margin."""

    def __init__(self, cfg):
        d, c = cfg.deficiency, cfg.causes
        self.ferritin_low = d.ferritin_deficient_ug_l * 0.3
        self.ferritin_normal = d.ferritin_inflamed_deficient_ug_l * 1.6
        self.tsat_low = d.tsat_deficient_pct * 0.6
        self.b12_low = d.b12_deficient_pmol_l * 0.65
        self.b12_mid = (d.b12_deficient_pmol_l + d.b12_indeterminate_pmol_l) / 2
        self.b12_normal = d.b12_indeterminate_pmol_l * 1.8
        self.folate_low = d.folate_deficient_nmol_l * 0.5
        self.folate_normal = d.folate_deficient_nmol_l * 3
        self.crp_high = max(c.crp_inflammation_mg_l, d.crp_inflamed_mg_l) * 8
        self.mcv_irida = c.irida_mcv_max_fl * 0.88
        self.mcv_usual = (c.irida_mcv_max_fl + c.low_mcv_fl) / 2 + 2
        self.tsat_irida = c.irida_tsat_max_pct * 0.5
        self.ferritin_irida = c.irida_ferritin_min_ug_l * 1.4
        self.rise_ok = cfg.response.min_rise_g_l * 2.5
        self.rise_poor = cfg.response.min_rise_g_l * 0.2
        self.wbc_ok = c.low_wbc_10e9_l * 2
        self.platelets_ok = c.low_platelets_10e9_l * 1.7
        a = cfg.anaemia
        self.hb_base_women = min(a.hb_cutoff_women_g_l, a.hb_cutoff_unknown_sex_g_l) * 0.75
        self.hb_base_men = a.hb_cutoff_men_g_l * 0.77
        self.hb_child_cut = a.hb_cutoff_5_11_years_g_l
        self.hb_preg_t2_cut = a.hb_cutoff_pregnant_second_trimester_g_l
        self.rise_below = cfg.response.min_rise_g_l * 0.7
        self.fu_from, self.fu_to = cfg.response.followup_from_day, cfg.response.followup_to_day
        self.base_days = cfg.response.baseline_days
        self.precedence = cfg.causes.precedence
        self.jic_days = cfg.coprescribing.window_days
        if self.ferritin_irida >= d.ferritin_deficient_ug_l:
            raise ValueError("config leaves no room for an IRIDA-like ferritin below the deficiency cut-off")


def hb_baseline(g: Group, L: Levels) -> np.ndarray:
    """Anaemic baseline Hb, well below the sex-specific cut-off (women's cut-off for unknown sex)."""
    return np.where(g.sex == "M", L.hb_base_men, L.hb_base_women) + g.jitter(-3, 3)


def iron_patient(
    g: Group,
    L: Levels,
    *,
    drug=ORAL_IRON,
    test="ferritin",
    baseline=True,
    followup="respond",
    dispense_days=56,
    duration=56,
    mcv=None,
    route="oral",
    testing="tested_before",
) -> None:
    prescription(g, drug, 0, duration)
    pre = -g.days(7, 20)
    if test == "ferritin":
        lab(g, "ferritin", pre, L.ferritin_low * g.jitter(0.8, 1.2))
    elif test == "ferritin_lt":
        lab(g, "ferritin", pre, np.full(g.n, 5.0), comparator="<")
    elif test == "tsat":
        lab(g, "tsat", pre, L.tsat_low + g.jitter(-1, 1))
    elif test == "normal":
        lab(g, "ferritin", pre, L.ferritin_normal * g.jitter(0.9, 1.2))
    elif test == "after":
        lab(g, "ferritin", g.days(L.fu_from, 60), L.ferritin_low)
    base = hb_baseline(g, L)
    base_day = -g.days(1, min(14, L.base_days - 5))
    if baseline:
        lab(g, "hb", base_day, base)
    lab(g, "mcv", base_day, mcv if mcv is not None else L.mcv_usual + g.jitter(-2, 2))
    lab(g, "wbc", base_day, L.wbc_ok + g.jitter(-1, 1))
    lab(g, "platelets", base_day, L.platelets_ok + g.jitter(-20, 20))
    if followup:
        rise = L.rise_ok if followup == "respond" else L.rise_poor
        lab(g, "hb", g.days(L.fu_from + 7, L.fu_to - 14), base + rise + g.jitter(-1, 1))
    if dispense_days:
        dispensing(g, drug, 0, dispense_days)


def iron_truth(g, L, testing, outcome, na="", causes=(), route="oral"):
    truth(g, "iron", route, testing, outcome=outcome, na_reason=na, causes=causes, precedence=L.precedence)


@scenario
def iron_tested_responded(g, L):
    iron_patient(g, L)
    iron_truth(g, L, "tested_before", "responded")


@scenario
def iron_tested_lt_comparator_responded(g, L):
    iron_patient(g, L, test="ferritin_lt")
    iron_truth(g, L, "tested_before", "responded")


@scenario
def iron_tsat_tested_responded(g, L):
    iron_patient(g, L, test="tsat")
    iron_truth(g, L, "tested_before", "responded")


@scenario
def iron_tested_after_only(g, L):
    iron_patient(g, L, test="after")
    iron_truth(g, L, "tested_after_only", "responded")


@scenario
def iron_never_tested(g, L):
    iron_patient(g, L, test=None)
    iron_truth(g, L, "never_tested", "responded")


@scenario
def iron_despite_normal_ferritin(g, L):
    iron_patient(g, L, test="normal", followup="fail")
    iron_truth(g, L, "tested_before", "failed", causes=("wrong_diagnosis",))


@scenario
def failed_anaemia_of_inflammation(g, L):
    """Ferritin well above the inflamed cut-off beside a low TSAT and a raised CRP: ferritin
    decides, so iron deficiency was never shown (wrong_diagnosis) and CRP gives inflammation."""
    iron_patient(g, L, test="normal", followup="fail")
    lab(g, "tsat", -g.days(3, 6), L.tsat_low + g.jitter(-1, 1))
    lab(g, "crp", -g.days(1, 10), L.crp_high * g.jitter(0.9, 1.5))
    iron_truth(g, L, "tested_before", "failed", causes=("inflammation", "wrong_diagnosis"))


@scenario
def iron_no_baseline_hb(g, L):
    iron_patient(g, L, baseline=False)
    iron_truth(g, L, "tested_before", "not_assessable", na="no_baseline_hb")


@scenario
def iron_no_followup_hb(g, L):
    iron_patient(g, L, followup=None)
    iron_truth(g, L, "tested_before", "not_assessable", na="no_followup_hb")


@scenario
def iron_no_hb(g, L):
    iron_patient(g, L, baseline=False, followup=None, test=None)
    iron_truth(g, L, "never_tested", "not_assessable", na="no_hb")


@scenario
def iron_iv_responded(g, L):
    iron_patient(g, L, drug=IV_IRON, dispense_days=None, duration=1)
    iron_truth(g, L, "tested_before", "responded", route="iv")


@scenario
def failed_low_dose(g, L):
    iron_patient(g, L, drug=LOW_DOSE_IRON, followup="fail")
    iron_truth(g, L, "tested_before", "failed", causes=("low_dose",))


@scenario
def failed_short_course(g, L):
    iron_patient(g, L, followup="fail", duration=10, dispense_days=10)
    iron_truth(g, L, "tested_before", "failed", causes=("short_course", "non_adherence"))


@scenario
def failed_short_course_later_order(g, L):
    """A 10-day course, fully taken; a new order after a gap and after the follow-up Hb does
    not extend the course (RULES.md 'Treatment episodes'), so the course was too short."""
    iron_patient(g, L, followup="fail", duration=10, dispense_days=56)
    prescription(g, ORAL_IRON, L.fu_to - 10, 56)
    iron_truth(g, L, "tested_before", "failed", causes=("short_course",))


@scenario
def failed_non_adherence(g, L):
    iron_patient(g, L, followup="fail", dispense_days=7)
    iron_truth(g, L, "tested_before", "failed", causes=("non_adherence",))


@scenario
def failed_adherence_unknown(g, L):
    iron_patient(g, L, followup="fail", dispense_days=None)
    iron_truth(g, L, "tested_before", "failed", causes=("adherence_unknown",))


@scenario
def failed_blood_loss_gi(g, L):
    iron_patient(g, L, followup="fail")
    diagnosis(g, "K92.2", -g.days(10, 40))
    iron_truth(g, L, "tested_before", "failed", causes=("blood_loss",))


@scenario
def failed_blood_loss_nsaid(g, L):
    iron_patient(g, L, followup="fail")
    prescription(g, NAPROXEN, -g.days(20, 60), 120)
    iron_truth(g, L, "tested_before", "failed", causes=("blood_loss",))


@scenario
def failed_malabsorption_coeliac(g, L):
    iron_patient(g, L, followup="fail")
    diagnosis(g, "K90.0", -g.days(200, 900))
    iron_truth(g, L, "tested_before", "failed", causes=("malabsorption",))


@scenario
def failed_malabsorption_ppi(g, L):
    iron_patient(g, L, followup="fail")
    prescription(g, OMEPRAZOLE, -g.days(20, 60), 180)
    iron_truth(g, L, "tested_before", "failed", causes=("malabsorption",))


@scenario
def failed_inflammation_crp(g, L):
    iron_patient(g, L, followup="fail")
    lab(g, "crp", -g.days(1, 10), L.crp_high * g.jitter(0.9, 1.5))
    iron_truth(g, L, "tested_before", "failed", causes=("inflammation",))


@scenario
def failed_inflammation_ckd(g, L):
    iron_patient(g, L, followup="fail")
    diagnosis(g, "N18.4", -g.days(100, 700))
    iron_truth(g, L, "tested_before", "failed", causes=("inflammation",))


@scenario
def failed_marrow(g, L):
    iron_patient(g, L, followup="fail")
    diagnosis(g, "D46.9", -g.days(60, 400))
    iron_truth(g, L, "tested_before", "failed", causes=("marrow",))


@scenario
def failed_haemolysis(g, L):
    iron_patient(g, L, followup="fail")
    diagnosis(g, "D59.1", -g.days(30, 300))
    iron_truth(g, L, "tested_before", "failed", causes=("haemolysis",))


@scenario
def failed_irida_like(g, L):
    iron_patient(g, L, followup="fail", test=None, mcv=L.mcv_irida + g.jitter(-2, 2))
    pre = -g.days(7, 20)
    lab(g, "ferritin", pre, L.ferritin_irida + g.jitter(0, 2))
    lab(g, "tsat", pre, L.tsat_irida + g.jitter(-1, 1))
    iron_truth(g, L, "tested_before", "failed", causes=("irida_suspected",))


@scenario
def failed_unexplained(g, L):
    iron_patient(g, L, followup="fail")
    iron_truth(g, L, "tested_before", "failed", causes=("unexplained",))


@scenario
def failed_escalated_to_iv(g, L):
    iron_patient(g, L, followup=None)
    prescription(g, IV_IRON_SUCROSE, g.days(L.fu_from + 2, L.fu_from + 6), 1)
    iron_truth(g, L, "tested_before", "failed", causes=("unexplained",))


@scenario
def failed_blood_loss_and_inflammation(g, L):
    iron_patient(g, L, followup="fail")
    diagnosis(g, "K92.2", -g.days(10, 40))
    lab(g, "crp", -g.days(1, 10), L.crp_high)
    iron_truth(g, L, "tested_before", "failed", causes=("blood_loss", "inflammation"))


def _single(g, L, drug, agent, route, test, value, testing, day=0, excluded=""):
    prescription(g, drug, day, 90)
    if test == "before":
        lab(g, agent, -g.days(5, 30), value)
    elif test == "after":
        lab(g, agent, g.days(5, 60), value)
    lab(g, "hb", -g.days(1, 10), hb_baseline(g, L) + L.rise_poor)
    truth(g, agent, route, testing, excluded=excluded, start_day=day)


@scenario
def b12_tested_deficient(g, L):
    _single(g, L, HYDROXOCOBALAMIN, "b12", "im", "before", L.b12_low, "tested_before")


@scenario
def b12_never_tested(g, L):
    _single(g, L, CYANOCOBALAMIN, "b12", "oral", None, None, "never_tested")


@scenario
def b12_tested_after_only(g, L):
    _single(g, L, CYANOCOBALAMIN, "b12", "oral", "after", L.b12_low, "tested_after_only")


@scenario
def b12_despite_normal(g, L):
    _single(g, L, CYANOCOBALAMIN, "b12", "oral", "before", L.b12_normal, "tested_before")


@scenario
def b12_indeterminate(g, L):
    _single(g, L, HYDROXOCOBALAMIN, "b12", "im", "before", L.b12_mid, "tested_before")


@scenario
def b12_tested_value_unreadable(g, L):
    """The sample was taken but the result is text only: still tested before (RULES.md)."""
    _single(g, L, CYANOCOBALAMIN, "b12", "oral", None, None, "tested_before")
    lab_text(g, "b12", -g.days(1, 5), "UNABLE TO REPORT")


@scenario
def folate_tested_deficient(g, L):
    _single(g, L, FOLIC_ACID, "folate", "oral", "before", L.folate_low, "tested_before")


@scenario
def folate_never_tested(g, L):
    _single(g, L, FOLIC_ACID, "folate", "oral", None, None, "never_tested")


@scenario
def folate_tested_after_only(g, L):
    _single(g, L, FOLIC_ACID, "folate", "oral", "after", L.folate_low, "tested_after_only")


@scenario
def folate_despite_normal(g, L):
    _single(g, L, FOLIC_ACID, "folate", "oral", "before", L.folate_normal, "tested_before")


@scenario
def jic_folate_with_iron(g, L):
    iron_patient(g, L)
    iron_truth(g, L, "tested_before", "responded")
    prescription(g, FOLIC_ACID, 0, 90)
    truth(g, "folate", "oral", "never_tested", jic=True)


@scenario
def jic_b12_with_iron(g, L):
    iron_patient(g, L)
    iron_truth(g, L, "tested_before", "responded")
    day = int(L.jic_days // 2)
    prescription(g, CYANOCOBALAMIN, day, 90)
    truth(g, "b12", "oral", "never_tested", jic=True, start_day=day)


@scenario
def jic_combination_product(g, L):
    iron_patient(g, L, drug=COMBINATION)
    iron_truth(g, L, "tested_before", "responded")
    truth(g, "folate", "oral", "never_tested", jic=True)


@scenario
def folate_tested_with_iron_not_jic(g, L):
    iron_patient(g, L)
    iron_truth(g, L, "tested_before", "responded")
    prescription(g, FOLIC_ACID, 0, 90)
    lab(g, "folate", -g.days(5, 30), L.folate_low)
    truth(g, "folate", "oral", "tested_before", jic=False)


@scenario
def b12_long_after_iron_not_jic(g, L):
    iron_patient(g, L)
    iron_truth(g, L, "tested_before", "responded")
    day = int(L.jic_days * 4)
    prescription(g, CYANOCOBALAMIN, day, 90)
    truth(g, "b12", "oral", "never_tested", jic=False, start_day=day)


@scenario
def excluded_pregnancy_folate(g, L):
    _single(g, L, FOLIC_ACID, "folate", "oral", None, None, "never_tested", excluded="pregnancy_folate_prophylaxis")


@scenario
def excluded_methotrexate_folate(g, L):
    prescription(g, METHOTREXATE, -g.days(10, 40), 180)
    _single(g, L, FOLIC_ACID, "folate", "oral", None, None, "never_tested", excluded="methotrexate_folate")


@scenario
def excluded_pernicious_anaemia_b12(g, L):
    diagnosis(g, "D51.0", -g.days(400, 1500))
    _single(g, L, HYDROXOCOBALAMIN, "b12", "im", None, None, "never_tested", excluded="pernicious_anaemia_maintenance")


def _near_cutoff(g, L, cutoff: float) -> None:
    """Iron with a baseline Hb just below `cutoff` and a follow-up 1 g/L above it: a rise below
    `min_rise_g_l`, so only the cut-off that applies to this patient makes it a response."""
    iron_patient(g, L, baseline=False, followup=None)
    lab(g, "hb", -g.days(1, min(14, L.base_days - 5)), np.full(g.n, cutoff + 1 - L.rise_below))
    lab(g, "hb", g.days(L.fu_from + 7, L.fu_to - 14), np.full(g.n, cutoff + 1))


@scenario
def iron_child_responded_child_cutoff(g, L):
    """A child of about 8 (5-11 years, WHO 2024 cut-off 115 g/L): the follow-up Hb reaches the
    child's cut-off, below any adult one, so the child responded (issue 10 item 4)."""
    _near_cutoff(g, L, L.hb_child_cut)
    iron_truth(g, L, "tested_before", "responded")


@scenario
def iron_pregnant_second_trimester_responded(g, L):
    """A woman in her second trimester at the follow-up Hb (cut-off 105 g/L, not 110)."""
    _near_cutoff(g, L, L.hb_preg_t2_cut)
    iron_truth(g, L, "tested_before", "responded")


@scenario
def failed_laboratory_hb_over_blood_gas(g, L):
    """At the follow-up, a laboratory Hb with no response at 08:30 and an arterial blood-gas
    Hb (LOINC 30313-1) that would mean one at 09:00: the laboratory Hb counts (issue 10 item 9,
    `[response] hb_method_preference`), so iron failed with nothing to explain it."""
    iron_patient(g, L, baseline=False, followup=None)
    base = hb_baseline(g, L)
    lab(g, "hb", -g.days(1, min(14, L.base_days - 5)), base)
    fu_day = g.days(L.fu_from + 7, L.fu_to - 14)
    lab(g, "hb", fu_day, base + L.rise_poor)
    gas = np.char.mod("%.0f", np.round(base + L.rise_ok))
    g.emit("labs", None, patient_id=g.pid, taken_at=g.when(fu_day, hour=9.0), loinc=np.full(g.n, "30313-1"),
           test_name=np.full(g.n, ""), value=gas, unit=np.full(g.n, "g/L"))  # fmt: skip
    iron_truth(g, L, "tested_before", "failed", causes=("unexplained",))


# Pregnant scenarios: days of gestation on the patient's day 0 (the pregnancy lasts 260 days).
PREGNANT = {"excluded_pregnancy_folate": 60, "iron_pregnant_second_trimester_responded": 120}
# Children: age in years on day 0 (the patient has a birth year only, as the contract allows).
CHILD_AGE_YEARS = {"iron_child_responded_child_cutoff": 8}
# Relative frequency of each scenario after the first patients (who cover every scenario once).
# The failed-iron scenarios follow the clinical reference (RULES.md, "Why iron failed"): a dose
# too low, a course too short and tablets not taken are the common causes; blood loss,
# malabsorption, inflammation and the wrong diagnosis less common; marrow disease and
# haemolysis rarer; IRIDA very rare. docs/synthetic.md gives the resulting shares.
WEIGHTS = {name: 1.0 for name in SCENARIOS}
WEIGHTS.update(
    iron_tested_responded=6,
    iron_never_tested=4,
    iron_tested_after_only=2,
    iron_no_followup_hb=4,
    b12_never_tested=3,
    folate_never_tested=3,
    jic_folate_with_iron=3,
    jic_combination_product=2,
    # common causes of iron failure
    failed_low_dose=4,
    failed_short_course=3,
    failed_short_course_later_order=1,
    failed_non_adherence=3,
    failed_adherence_unknown=0.5,
    # less common
    failed_blood_loss_gi=1,
    failed_blood_loss_nsaid=0.7,
    failed_blood_loss_and_inflammation=0.3,
    failed_malabsorption_coeliac=0.5,
    failed_malabsorption_ppi=0.8,
    failed_inflammation_crp=0.8,
    failed_inflammation_ckd=0.7,
    iron_despite_normal_ferritin=0.8,
    failed_anaemia_of_inflammation=0.4,
    failed_unexplained=0.8,
    failed_escalated_to_iv=0.3,
    # rarer
    failed_marrow=0.3,
    failed_haemolysis=0.3,
    # very rare
    failed_irida_like=0.05,
)


# --- Issue 10 items 5-8: drug vocabulary, salt forms and code lists. Appended; each planted
# with weight 1. A not-treatment drug is planted beside a real start: if it were read as
# treatment it would open an extra (or earlier) episode and truth recovery would fail.


def _drug(name, dose="1", unit="tablet", per_day="1", route="oral", code="", system=""):
    return dict(
        drug_code=code, code_system=system, drug_name=name, route=route, dose_amount=dose, dose_unit=unit,
        doses_per_day=per_day,
    )  # fmt: skip


DRIED_SULFATE_ALTERNATE_DAYS = _drug("Ferrous sulfate 200 mg tablets", dose="200", unit="mg", per_day="0.5")
GALFER = _drug("Galfer 305mg capsules", unit="capsule")
MONOFER = _drug("Monofer 1000mg/10ml infusion", dose="1000", unit="mg", route="IV")
IRON_MULTIVITAMIN_ATC = _drug("Iron and multivitamin tablets", code="B03AE03", system="ATC")
NOT_TREATMENT = [
    _drug("Norethindrone acetate/ethinyl estradiol and ferrous fumarate (Loestrin Fe 1/20)"),
    _drug("Ferric citrate 210 mg iron (Auryxia)", dose="2", per_day="3"),
    _drug("Multivitamins W/minerals"),
    _drug("Leucovorin calcium 15 mg", dose="15", unit="mg"),
    _drug("Vitamin B Complex w/C"),
]
HEPARIN_FLUSH = _drug("Heparin Flush (10 units/ml)", dose="2", unit="mL", route="IV")
GLUCOSAMINE = _drug("Glucosamine sulfate 1500mg", dose="1", code="M01AX05", system="ATC")


def _lab_code(g, loinc: str, day, value: str, unit: str) -> None:
    """A result by a LOINC code the events module does not plant (holotranscobalamin, red-cell folate)."""
    g.emit("labs", None, patient_id=g.pid, taken_at=g.when(day, hour=8.5), loinc=np.full(g.n, loinc),
           test_name=np.full(g.n, ""), value=np.full(g.n, value), unit=np.full(g.n, unit))  # fmt: skip


@scenario
def failed_dried_sulfate_alternate_days_not_low_dose(g, L):
    """200 mg dried ferrous sulfate on alternate days is 32.5 mg iron a day, not 20 (item 5)."""
    iron_patient(g, L, drug=DRIED_SULFATE_ALTERNATE_DAYS, followup="fail")
    iron_truth(g, L, "tested_before", "failed", causes=("unexplained",))


@scenario
def iron_brand_name_responded(g, L):
    """An oral brand (Galfer) and an intravenous brand (Monofer) named without any code."""
    iron_patient(g, L, drug=GALFER)
    iron_truth(g, L, "tested_before", "responded")


@scenario
def iron_iv_brand_responded(g, L):
    iron_patient(g, L, drug=MONOFER, dispense_days=None, duration=1)
    iron_truth(g, L, "tested_before", "responded", route="iv")


@scenario
def iron_multivitamin_atc_iron_only(g, L):
    """ATC B03AE03 (iron and multivitamins) opens an iron episode only, never B12 or folate."""
    iron_patient(g, L, drug=IRON_MULTIVITAMIN_ATC)
    iron_truth(g, L, "tested_before", "responded")


@scenario
def iron_beside_not_treatment_products(g, L):
    """Contraceptive Fe pack, ferric citrate, multivitamins, leucovorin, B complex: none opens
    an episode; the real iron start 200 days later is a new episode (wash-out 365 days)."""
    for drug in NOT_TREATMENT:
        prescription(g, drug, -200, 28)
    iron_patient(g, L)
    iron_truth(g, L, "tested_before", "responded")


@scenario
def failed_heparin_flush_and_glucosamine_not_blood_loss(g, L):
    """A heparin flush and glucosamine (M01AX05) in the window are not blood-loss evidence."""
    iron_patient(g, L, followup="fail")
    prescription(g, HEPARIN_FLUSH, g.days(1, 5), 1)
    prescription(g, GLUCOSAMINE, -g.days(20, 60), 120)
    iron_truth(g, L, "tested_before", "failed", causes=("unexplained",))


@scenario
def failed_marrow_metastases_c795(g, L):
    iron_patient(g, L, followup="fail")
    diagnosis(g, "C79.5", -g.days(60, 400))
    iron_truth(g, L, "tested_before", "failed", causes=("marrow",))


@scenario
def failed_other_secondary_c799_is_inflammation(g, L):
    """C79.9 (secondary cancer, site unspecified) is active cancer, not marrow disease."""
    iron_patient(g, L, followup="fail")
    diagnosis(g, "C79.9", -g.days(60, 400))
    iron_truth(g, L, "tested_before", "failed", causes=("inflammation",))


@scenario
def failed_malabsorption_h_pylori(g, L):
    iron_patient(g, L, followup="fail")
    diagnosis(g, "B98.0", -g.days(100, 700))
    iron_truth(g, L, "tested_before", "failed", causes=("malabsorption",))


@scenario
def b12_tested_by_holotranscobalamin(g, L):
    _single(g, L, HYDROXOCOBALAMIN, "b12", "im", None, None, "tested_before")
    _lab_code(g, "72160-5", -g.days(5, 30), "20", "pmol/L")


@scenario
def folate_tested_by_red_cell_folate(g, L):
    _single(g, L, FOLIC_ACID, "folate", "oral", None, None, "tested_before")
    _lab_code(g, "2283-0", -g.days(5, 30), "90", "ng/mL")


WEIGHTS.update({name: 1.0 for name in SCENARIOS if name not in WEIGHTS})
# The failed ones among them keep the clinical tiers of the causes (RULES.md: marrow rare).
WEIGHTS.update(
    failed_dried_sulfate_alternate_days_not_low_dose=0.3,
    failed_heparin_flush_and_glucosamine_not_blood_loss=0.3,
    failed_marrow_metastases_c795=0.1,
    failed_laboratory_hb_over_blood_gas=0.3,
    failed_other_secondary_c799_is_inflammation=0.4,
    failed_malabsorption_h_pylori=0.4,
)
