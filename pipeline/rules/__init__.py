"""Rules: stg_* -> episodes, iron_outcomes, failure_causes.

One module per clinical question, each a function from Ibis tables and the audit config to
an Ibis table. Nothing here runs a query; `classify` assembles the expressions and writes
the three tables to the warehouse (all together).

- `inputs`: the staged input tables, with the optional ones explicitly absent (`None`).
- `timing`: the tie rule for "was this before that" when one side has only a date.
- `lab_values`: comparisons that respect a reported comparator (`<5`).
- `episodes`: treatment episodes per agent (wash-out, overlapping prescriptions).
- `testing`: qualifying tests before / after the start and what they showed.
- `exclusions`: episodes that are continuing or prophylactic treatment, not audited starts.
- `coprescribing`: B12 / folate started "just in case" alongside iron.
- `response`: baseline and follow-up Hb, escalation, iron outcome.
- `adherence`: proportion of days covered by iron dispensings.
- `causes`: why a failed iron episode failed, with the evidence row, and the primary cause.
"""
