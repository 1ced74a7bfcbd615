"""Pandera models of the staged tables, built from the table registry (schemas/staged.py)."""
