"""`anemia-audit bench`: how far the pipeline is from the cost of just reading its input.

- `run`: generates the cohort (outside the timing), then times DuckDB's bare ingest of the
  same files, each pipeline step as its own process, and the pandas reference; writes
  `bench/results-<N>.json`.
- `reference`: the core rule in plain pandas, reading included (the comparison a data
  scientist would write by hand).

The bare ingest lives in `pipeline.engine.bare_ingest` (only the engine touches DuckDB).
"""
