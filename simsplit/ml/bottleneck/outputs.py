"""The files ``train-bottleneck`` writes: the payload table (payloads.csv: bytes and accuracy of every trained
bottleneck, with the percentiles of its encoded sizes and its channel-in-the-loop accuracies), the backbone's
measured profile (profile.csv), results.json and the rate-accuracy figure."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from simsplit.ml.bottleneck.config import TrainConfig, channel_levels
from simsplit.ml.bottleneck.data import Data
from simsplit.ml.bottleneck.evaluate import SIZE_PERCENTS
from simsplit.ml.bottleneck.rate_accuracy_plot import plot_rate_accuracy


def write_outputs(config: TrainConfig, out: Path, teacher: torch.nn.ModuleList, data: Data, base: float,
                  rows: list[dict], gaps: list[dict]) -> dict:
    """Write payloads.csv, profile.csv, results.json and rate-accuracy.png into ``out``; return the summary
    (the teacher's accuracy ``base``, the ``rows`` without their sizes, the naive-vs-aware ``gaps``)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "payloads.csv").write_text("\n".join(payload_lines(config, teacher, data, base, rows)) + "\n")
    write_backbone_profile(config, teacher, data, out / "profile.csv")
    summary = {"teacher_accuracy": base, "rows": [{k: v for k, v in r.items() if k != "sizes"} for r in rows],
               "naive_vs_aware": gaps}
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_rate_accuracy(rows, base, gaps, out / "rate-accuracy.png")
    return summary


def curve_columns(config: TrainConfig) -> list[tuple[str, float]]:
    """(column, level) of the channel-in-the-loop accuracies, by level: ``accuracy_snr_<dB>`` or
    ``accuracy_erasure_<p>`` (an erasure curve starts at 0, the clean accuracy); none without a channel."""
    if config.channel is None:
        return []
    levels = channel_levels(config)
    awgn = config.channel["kind"] == "awgn"
    if not awgn and 0.0 not in levels:
        levels = [0.0] + levels
    prefix = "accuracy_snr_" if awgn else "accuracy_erasure_"
    return [(f"{prefix}{level:g}", level) for level in sorted(levels)]


def payload_lines(config: TrainConfig, teacher: torch.nn.ModuleList, data: Data, base: float,
                  rows: list[dict]) -> list[str]:
    """The payload table: its notes, its header, the raw input at split 0, a line per row, and ``none`` (the
    whole network on the device) after the last block."""
    columns = curve_columns(config)
    blank = ",".join(["" for _ in SIZE_PERCENTS]) + "," * len(columns)  # no sizes and no curve
    splits = len(teacher) - 1  # blocks before the classifier
    lines = [("# Payload table produced by simsplit train-bottleneck (bytes: real encoded lengths, JPEG + 8-byte "
              "header or range-coded stream + 2-byte header, on"),
             f"# the test set of {data.description}; accuracy on that test set). Teacher accuracy {base:.4f}.",
             "# bytes_q<p>: the p-th percentile of the encoded size; the engine draws each request's size from them.",
             "# accuracy_snr_<dB> / accuracy_erasure_<p>: accuracy of the unit with the channel in the loop (AWGN on",
             "# the features at that SNR; that fraction of the quantised bits erased), measured on the test set."]
    lines.append("split,bottleneck,bytes,accuracy,encode_ms,decode_ms," + ",".join(f"bytes_q{q}" for q in SIZE_PERCENTS)
                 + "".join(f",{column}" for column, _ in columns))
    lines.append(f"0,raw-uint8,{int(data.test_x[0].numel())},{base:.4f},0,0," + blank)
    lines += [_payload_line(row, columns) for row in rows]
    lines.append(f"{splits + 1},none,0,{base:.4f},0,0," + blank)
    return lines


def _payload_line(row: dict, columns: list[tuple[str, float]]) -> str:
    """One bottleneck's line: bytes, accuracy, times, size percentiles and its channel curve (if it has one)."""
    curve = row.get("curve", {})
    cells = [_curve_cell(row, curve, level) for _, level in columns]
    return (f"{row['split']},{row['bottleneck']},{row['bytes']:.1f},{row['accuracy']:.4f},"
            f"{row['encode_ms']:.4f},{row['decode_ms']:.4f}," + ",".join(f"{v:.1f}" for v in row["quantiles"])
            + "".join(f",{c}" for c in cells))


def _curve_cell(row: dict, curve: dict, level: float) -> str:
    """The accuracy at ``level`` of the row's channel curve; at level 0 the clean accuracy; blank off the curve."""
    if level in curve:
        return f"{curve[level]:.4f}"
    return f"{row['accuracy']:.4f}" if level == 0.0 and curve else ""


def write_backbone_profile(config: TrainConfig, teacher: torch.nn.ModuleList, data: Data, path: Path) -> None:
    """Measure the teacher's blocks on this machine (one test-sized input) and write them as a profile: this
    machine, the edge-t4 server and the jetson-tx2 and rpi4 devices mapped by the roofline model."""
    from simsplit.ml.measure import measure_blocks, write_profile
    blocks = [(f"B{k + 1}", b) for k, b in enumerate(teacher[:-1])] + [("classifier", teacher[-1])]
    name = "digits-resnet" if config.backbone.kind == "residual" else config.backbone.model
    measurement = measure_blocks(name, blocks, (1, *data.test_x.shape[1:]),
                                 threads=config.threads, warmup=2, repeats=10)
    write_profile(measurement, path, "host", ["edge-t4"], ["jetson-tx2", "rpi4"])
