"""Explain: read-only views for local use, never released.

- `patient`: one patient's timeline and each episode's classification with the rows behind it
  (`anemia-audit explain --patient ID`).
- `timeline`: the same timeline as a chart (notebooks).
- `coverage`: source codes and names no code list maps (`anemia-audit codes`).
"""
