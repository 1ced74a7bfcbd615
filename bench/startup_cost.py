"""Fixed cost of a command: median CPU seconds (user + system) of `anemia-audit --help` and
`anemia-audit synth --patients 30` in a fresh interpreter, and which heavy libraries each loads.

    .venv/bin/python bench/startup_cost.py [SOURCE_DIR] [RUNS]

SOURCE_DIR (default: this checkout) goes first on sys.path, so an older checkout
(`git archive <commit> | tar -x -C DIR`) can be measured with the same interpreter.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HEAVY = ("ibis", "duckdb", "pandera", "altair", "sqlglot", "pandas")
PROBE = """
import json, sys
sys.path.insert(0, {src!r})
from pipeline.cli import app
try:
    app(args=sys.argv[1:], standalone_mode=False)
finally:
    print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})), file=sys.stderr)
"""
COMMANDS = {"--help": ["--help"], "synth --patients 30": ["synth", "--patients", "30", "--out", "{out}"]}


def main() -> None:
    src = str(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[1]).resolve())
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    for name, args in COMMANDS.items():
        cpu, loaded = [], set()
        for _ in range(runs):
            out = tempfile.mkdtemp()
            argv = [sys.executable, "-c", PROBE.format(src=src), *(a.format(out=out) for a in args)]
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=out, text=True)
            stderr = proc.stderr.read()
            _, _, usage = os.wait4(proc.pid, 0)
            proc.returncode = 0
            cpu.append(usage.ru_utime + usage.ru_stime)
            loaded = set(json.loads(stderr.strip().splitlines()[-1]))
            shutil.rmtree(out)
        heavy = ", ".join(sorted(loaded & set(HEAVY))) or "none"
        print(f"{name:22} median CPU {statistics.median(cpu):.2f} s over {runs} runs; heavy libraries loaded: {heavy}")


if __name__ == "__main__":
    main()
