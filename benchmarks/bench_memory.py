"""Peak memory (RSS) of one `simsplit run` of the default scenario at three run lengths.

Each length runs in its own process (peak RSS from getrusage of the child). Targets (issue: memory flat in
run length): the 21,600 s run within 400 MB and within 1.3x of the 1,500 s run.

    python benchmarks/bench_memory.py [--lengths 120,1500,21600]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def peak_rss_mb(duration_s: float) -> tuple[float, float]:
    """(peak RSS MB, wall s) of a child process that runs the default scenario for ``duration_s``."""
    with tempfile.TemporaryDirectory() as folder:
        code = ("import resource, sys\nfrom simsplit.cli import main\n"
                f"code = main(['run', {str(REPO / 'scenarios' / 'default.yaml')!r}, '--out', {folder + '/r'!r}, "
                f"'--set', 'duration_s={duration_s}', '--force'])\n"
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(code)")
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return int(out.stdout.strip().splitlines()[-1]) / 1024, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lengths", default="120,1500,21600")
    lengths = [float(x) for x in parser.parse_args().lengths.split(",")]
    peaks = {}
    for length in lengths:
        peak, wall = peak_rss_mb(length)
        peaks[length] = peak
        print(f"default scenario, duration_s={length:>8g}: peak RSS {peak:8.1f} MB, wall {wall:6.1f} s")
    if 21600.0 in peaks and 1500.0 in peaks:
        long, mid = peaks[21600.0], peaks[1500.0]
        print(f"21,600 s run: {long:.0f} MB (target <= 400 MB: {'met' if long <= 400 else 'SHORT'}); "
              f"ratio to the 1,500 s run {long / mid:.2f} (target <= 1.3: {'met' if long / mid <= 1.3 else 'SHORT'})")


if __name__ == "__main__":
    main()
