"""`make bench`: every benchmark in this folder, one after the other, each in its own process.

Each `bench_*.py` prints its table and writes its results file (see its docstring for the
options; here each runs with its defaults, sized for a 2-core machine). Exits non-zero if any
benchmark failed, after running the rest.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmarks() -> list[Path]:
    return sorted(HERE.glob("bench_*.py"))


def main() -> int:
    failed: list[str] = []
    for script in benchmarks():
        print(f"\n=== {script.name}", flush=True)
        started = time.monotonic()
        code = subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode
        print(
            f"=== {script.name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {time.monotonic() - started:.0f} s"
        )
        if code != 0:
            failed.append(script.name)
    if failed:
        print("Failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
