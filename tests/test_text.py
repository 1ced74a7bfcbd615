"""`pipeline.text.strip`: the same result as Ibis' strip for every value, on a real DuckDB."""

import ibis

from pipeline.text import strip

VALUES = [
    None, "", " ", "\t", "\n\r", "\x0b\x0c", "a", " a", "a ", "\ta\n", " \x0bfL\x0c ", "fL", "v",
    "a b", "  a b  ", "é", " é", "\x00", "\x01a\x1f", "NA", " NA ", "#N/A\t", "\u00a0a\u00a0", "x\u2003",
]  # fmt: skip


def test_strip_equals_ibis_strip_on_every_edge_case():
    con = ibis.duckdb.connect()
    t = ibis.memtable({"v": VALUES}, schema={"v": "string"})
    out = con.execute(t.select(fast=strip(t.v), plain=t.v.strip()))
    got = [None if x is None or x != x else x for x in out.fast]
    want = [None if x is None or x != x else x for x in out.plain]
    assert got == want
    assert got[10] == "fL" and got[1] == "" and got[0] is None
