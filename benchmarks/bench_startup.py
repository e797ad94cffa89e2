"""Start-up: `simsplit --help` against `python -c "import numpy, yaml"`, median of 5 runs each, interleaved.

Target: --help within 3x of the numpy+yaml import. Also lists which heavy libraries `simsplit validate`
loads (target: none of pandas, pyarrow, scipy, matplotlib, torch).

    python benchmarks/bench_startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "pyarrow", "scipy", "matplotlib", "torch")


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    help_s, base_s = [], []
    for _ in range(5):
        help_s.append(wall([sys.executable, "-m", "simsplit.cli", "--help"]))
        base_s.append(wall([sys.executable, "-c", "import numpy, yaml"]))
    ratio = statistics.median(help_s) / statistics.median(base_s)
    print(f"simsplit --help {statistics.median(help_s):.3f} s, import numpy+yaml {statistics.median(base_s):.3f} s: "
          f"ratio {ratio:.2f} (target <= 3.0: {'met' if ratio <= 3.0 else 'SHORT'})")
    probe = ("import sys, io, contextlib\nfrom simsplit.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             f"    main(['validate', {str(REPO / 'scenarios' / 'default.yaml')!r}])\n"
             f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout.strip()
    print(f"simsplit validate loads: {loaded or 'none of ' + ', '.join(HEAVY)} "
          f"(target: none: {'met' if not loaded else 'SHORT'})")


if __name__ == "__main__":
    main()
