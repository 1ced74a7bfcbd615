"""Pandera schema of the raw tables: every contract column as text, plus provenance."""

import pandera.ibis as pa

from pipeline.extract.base import COLUMNS


def raw_schema(table: str) -> pa.DataFrameSchema:
    columns = {c: pa.Column(str, nullable=True, description=f"{c} exactly as read") for c in COLUMNS[table]}
    columns.update({
        "row_id": pa.Column(int, unique=True, nullable=False, description="unique row id in the warehouse"),
        "load_id": pa.Column(str, nullable=False, description="load that added the row"),
        "source_file": pa.Column(str, nullable=False, description="file name the row came from"),
        "source_row": pa.Column(int, nullable=False, description="1-based data row number in that file"),
    })
    return pa.DataFrameSchema(columns, name=f"raw_{table}")
