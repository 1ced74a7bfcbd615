"""Which haemoglobin results judge the response to iron?

RULES.md 'Iron response': where a laboratory analyser Hb and a point-of-care or blood-gas Hb
are taken at about the same time, use the laboratory one. Each Hb's method comes from
data/codelists/hb_methods.csv, by LOINC first, then by the test name; an Hb whose code and
name say nothing is `unspecified`. `[response] hb_method_preference` orders the methods
(laboratory, unspecified, point_of_care, blood_gas). An Hb is set aside when the same patient
has an Hb of a more preferred method at about the same time: within
`hb_same_time_minutes` (60) when both carry a time, on the same calendar day when either is
date-only (the cautious reading of the tie rule). A blood-gas Hb with no laboratory Hb near
it still counts. Results without a value never count (they cannot show a response).
"""

from __future__ import annotations

import ibis

from pipeline.codes import load_hb_methods
from pipeline.rules.timing import as_date
from pipeline.text import strip


def _methods() -> tuple[ibis.Table, ibis.Table]:
    m = load_hb_methods()
    loinc = m[m.code_system == "LOINC"][["match_key", "method"]]
    names = m[m.code_system == "NAME"][["match_key", "method"]]
    return (
        ibis.memtable(loinc.rename(columns={"match_key": "_m_loinc", "method": "_loinc_method"})),
        ibis.memtable(names.rename(columns={"match_key": "_m_name", "method": "_name_method"})),
    )


def hb_with_method(labs: ibis.Table, cfg) -> ibis.Table:
    """The Hb results with a value, with `hb_method` and its `_pref` (0 = most preferred)."""
    hb = labs.filter((labs.analyte == "hb") & labs.value_num.notnull())
    loinc, names = _methods()
    hb = hb.mutate(_k_loinc=strip(hb.loinc).lower(), _k_name=strip(hb.test_name).lower())
    hb = hb.left_join(loinc, hb._k_loinc == loinc._m_loinc)
    hb = hb.left_join(names, hb._k_name == names._m_name)
    method = ibis.coalesce(hb._loinc_method, hb._name_method, ibis.literal("unspecified"))
    order = list(cfg.response.hb_method_preference)
    pref = ibis.cases(*[(method == m, i) for i, m in enumerate(order)], else_=len(order))
    return hb.select(*labs.columns, hb_method=method, _pref=pref)


def preferred_hb(labs: ibis.Table, cfg) -> ibis.Table:
    """The Hb results (columns of stg_labs plus `hb_method`) that judge the response: every Hb
    with a value less those set aside for a more preferred method at about the same time."""
    hb = hb_with_method(labs, cfg)
    other = hb.select(o_patient_id="patient_id", o_at="taken_at", o_has_time="taken_at_has_time", o_pref="_pref")
    worse = hb.filter(hb._pref > 0)  # the most preferred method is never set aside
    j = worse.join(other, worse.patient_id == other.o_patient_id)
    # compared after the join: in the predicate of a self-join Ibis resolves both to one column
    j = j.filter(j.o_pref < j._pref)
    both_timed = j.taken_at_has_time.fill_null(False) & j.o_has_time.fill_null(False)
    minutes = j.taken_at.delta(j.o_at, unit="minute").abs()
    near = ibis.ifelse(both_timed, minutes <= cfg.response.hb_same_time_minutes, as_date(j.taken_at) == as_date(j.o_at))
    set_aside = j.filter(near).select("row_id").distinct()
    return hb.anti_join(set_aside, "row_id").drop("_pref")
