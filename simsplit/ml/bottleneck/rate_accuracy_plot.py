"""The rate-accuracy figure of a training (rate-accuracy.png): bytes per sample on the wire (log) against top-1
accuracy on the test set, a curve per trained unit: JPEG units over their qualities (aware, naive, tables shared)
and range-coded units over their lambdas."""

from __future__ import annotations

from pathlib import Path


def plot_rate_accuracy(rows: list[dict], base: float, gaps: list[dict], path: Path) -> None:
    """Draw the payload ``rows``, the naive units of ``gaps`` and the teacher's accuracy ``base`` into ``path``."""
    from simsplit.figures.style import plt
    fig, ax = plt.subplots(figsize=(7.5, 4.5), constrained_layout=True)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    keys = sorted({(r["split"], r["bottleneck"].split("-q")[0]) for r in rows if r["bottleneck"].startswith("bn-")})
    colours = dict(zip(keys, palette * 5, strict=False))  # more colours than units
    _plot_jpeg_units(ax, rows, keys, colours)
    _plot_naive_units(ax, rows, gaps, colours)
    _plot_entropy_units(ax, rows, palette, len(keys))
    ax.axhline(base, color="grey", linestyle=":", label=f"teacher {base:.3f}")
    ax.set_xscale("log")
    ax.set_xlabel("bytes per sample on the wire (log)")
    ax.set_ylabel("top-1 accuracy (test)")
    ax.legend(fontsize=7, loc="lower right", framealpha=0.9)
    ax.set_title("rate-accuracy: JPEG units (quality as the rate knob; naive = trained without the codec)\n"
                 "and range-coded units (lambda as the rate knob), on the test set", fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _curve(rows: list[dict]) -> tuple[list[float], list[float]]:
    """Bytes and accuracies of ``rows``, in order of bytes."""
    points = sorted((r["bytes"], r["accuracy"]) for r in rows)
    return [p[0] for p in points], [p[1] for p in points]


def _plot_jpeg_units(ax, rows: list[dict], keys: list[tuple[int, str]], colours: dict) -> None:
    """Each JPEG unit (``bn-c<r>`` at a split) over its qualities: as trained (solid), tables shared (dotted)."""
    for split, name in keys:
        unit = [r for r in rows if r["split"] == split and r["bottleneck"].startswith(name + "-q")]
        aware = [r for r in unit if r["bottleneck"].count("-") == 2]
        shared = [r for r in unit if r["bottleneck"].endswith("-shared-tables")]
        ax.plot(*_curve(aware), "o-", markersize=3, color=colours[(split, name)],
                label=f"split {split}, {name}: aware (solid), naive (dashed), tables shared (dotted)")
        ax.plot(*_curve(shared), "s:", markersize=3, color=colours[(split, name)])


def _plot_naive_units(ax, rows: list[dict], gaps: list[dict], colours: dict) -> None:
    """Each naive unit (trained without the codec): its accuracy at the bytes of the aware unit (dashed)."""
    for split, reduced in sorted({(g["split"], g["reduced_channels"]) for g in gaps}):
        mine = [g for g in gaps if g["split"] == split and g["reduced_channels"] == reduced]
        sizes = [_bytes_of(rows, split, f"bn-c{reduced}-q{g['quality']}") for g in mine]
        ax.plot(sizes, [g["naive_accuracy"] for g in mine], "x--", markersize=4, alpha=0.7,
                color=colours[(split, f"bn-c{reduced}")])


def _bytes_of(rows: list[dict], split: int, bottleneck: str) -> float:
    return next(r["bytes"] for r in rows if r["split"] == split and r["bottleneck"] == bottleneck)


def _plot_entropy_units(ax, rows: list[dict], palette: list[str], offset: int) -> None:
    """Each range-coded unit over its lambdas, in the colours after the first ``offset``."""
    units = sorted({(r["split"], _entropy_unit(r)) for r in rows if r["bottleneck"].startswith("entropy-")})
    for index, (split, name) in enumerate(units):
        curve = _curve([r for r in rows if r["split"] == split and _entropy_unit(r) == name])
        ax.plot(*curve, "^-" if "vbr" in name else "v-", markersize=4,
                color=palette[(offset + index) % len(palette)],
                label=f"split {split}, {name} (range-coded{', one model' if 'vbr' in name else ''})")


def _entropy_unit(row: dict) -> str:
    """The unit of an entropy-coded row: its name without the lambda (``entropy-vbr-c4``)."""
    return row["bottleneck"].rsplit("-l", 1)[0]
