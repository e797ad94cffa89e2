"""Writes the small trace samples in this folder, one per supported format (seeded; run to regenerate).

They are the project's own synthetic data, shaped like each format's public datasets, so every reader and
replay check runs in any clone; the public traces stay in ../shared/traces-real.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
rng = np.random.default_rng(20261202)

# Mahimahi: 4 s of delivery opportunities, bursty (several in one ms), with a 250 ms outage
stamps = []
for ms in range(1, 4001):
    if 1500 <= ms < 1750:
        continue
    stamps += [ms] * int(rng.poisson(0.6 if ms < 2500 else 1.4))
stamps.append(4000)
(HERE / "sample.mahimahi").write_text("\n".join(str(s) for s in stamps) + "\n")

# Pensieve cooked: time_s and Mbps, irregular steps
t = np.cumsum(rng.uniform(0.3, 1.2, 25))
t = np.r_[0.0, t]
rates = rng.gamma(3.0, 1.2, t.size)
rates[8] = 0.0
(HERE / "sample.pensieve").write_text("\n".join(f"{a:.6f}\t{r:.6f}" for a, r in zip(t, rates, strict=True)) + "\n")

# Generic CSV: time in ms, rate in kbit/s, an extra column; the last row marks the end
times_ms = np.r_[0, np.cumsum(rng.integers(100, 900, 30))]
kbps = np.round(rng.gamma(2.0, 1500.0, times_ms.size), 3)
kbps[5] = 0
rows = [f"{int(a)},{r},cell-{k % 3}" for k, (a, r) in enumerate(zip(times_ms, kbps, strict=True))]
(HERE / "sample.csv").write_text("time_ms,rate_kbps,note\n" + "\n".join(rows) + "\n")

# G-NetTrack (UCC style): 1 s timestamps, some repeated seconds, missing values and idle rows
header = "Timestamp,Longitude,Latitude,Speed,Operatorname,CellID,NetworkMode,RSRP,DL_bitrate,UL_bitrate,State"
lines = []
for second in range(12):
    for _ in range(1 + (second % 4 == 0)):
        dl = "-" if second == 3 else str(int(rng.integers(0, 40000)))
        ul = str(int(rng.integers(0, 3000)))
        state = "I" if second == 7 else "D"
        lines.append(f"2020.02.13_13.03.{24 + second:02d},-8.38,51.93,0,B,12,5G,-100,{dl},{ul},{state}")
(HERE / "sample-gnettrack.csv").write_text(header + "\n" + "\n".join(lines) + "\n")

# MECPerf: comma-separated 'YYYY-MM-DD HH:MM:SS.ffffff_<Mbps>' items, sparse
items = [f"2020-04-06 18:{50 + k // 3:02d}:{(k * 20) % 60:02d}.000000_{rng.uniform(5, 12):.8f}" for k in range(9)]
(HERE / "sample.mecperf").write_text(",".join(items) + "\n")
