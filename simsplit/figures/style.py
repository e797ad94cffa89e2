"""Figure styles: sizes in inches for one or two paper columns, fonts, a colour-blind-safe palette, and the
formats a figure is written in (reproducibly: no dates or random ids in PDF/SVG files)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.rcsetup import cycler

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
"""Okabe and Ito's eight colours, told apart with every common colour-vision deficiency."""

FORMATS = ("pdf", "svg", "png")


@dataclass(frozen=True)
class FigureStyle:
    """How big figures are and how they look. Widths in inches: ``one_column_in`` for a figure in one column
    of a two-column paper, ``two_column_in`` for one spanning both."""

    name: str
    one_column_in: float
    two_column_in: float
    font_pt: float
    dpi: int
    formats: tuple[str, ...]
    titles: bool = True
    """Whether figures keep their titles (a paper's caption carries the title instead)."""

    def size(self, width: str, aspect: float) -> tuple[float, float]:
        """(width, height) in inches: ``width`` "one" or "two" columns, height = width x ``aspect``."""
        inches = self.one_column_in if width == "one" else self.two_column_in
        return inches, inches * aspect

    def rc(self) -> dict:
        return {"font.size": self.font_pt, "axes.titlesize": self.font_pt, "axes.labelsize": self.font_pt,
                "xtick.labelsize": self.font_pt * 0.85, "ytick.labelsize": self.font_pt * 0.85,
                "legend.fontsize": self.font_pt * 0.8, "axes.prop_cycle": cycler(color=PALETTE),
                "axes.grid": True, "grid.linewidth": 0.3, "grid.alpha": 0.5, "lines.linewidth": 1.0,
                "savefig.dpi": self.dpi, "svg.hashsalt": "simsplit", "pdf.fonttype": 42}


STYLES = {
    "paper": FigureStyle("paper", one_column_in=3.5, two_column_in=7.16, font_pt=8, dpi=300, formats=("pdf", "png"),
                         titles=False),
    "screen": FigureStyle("screen", one_column_in=6.4, two_column_in=10.0, font_pt=10, dpi=110,
                          formats=("png", "svg")),
}
"""``paper``: IEEE/ACM two-column sizes (3.5 and 7.16 inches), 8 pt text, PDF, no titles (the caption
carries them); ``screen``: larger, PNG and SVG, titled."""

SCREEN = STYLES["screen"]


def style_named(name: str) -> FigureStyle:
    """The style called ``name``; ValueError naming the styles there are otherwise."""
    if name not in STYLES:
        raise ValueError(f"unknown figure style {name!r}; expected one of {', '.join(STYLES)}")
    return STYLES[name]


@contextmanager
def styled(style: FigureStyle):
    """Matplotlib settings of ``style`` for the figures drawn inside the block."""
    with plt.rc_context(style.rc()):
        yield


def save(fig, path: Path, style: FigureStyle, formats: tuple[str, ...] | None = None) -> list[Path]:
    """Write ``fig`` once per format (``style.formats`` unless given) beside ``path``, close it, return the
    paths. PDF and SVG files carry no creation date, so the same figure gives the same bytes. Each file is
    written beside its name and then renamed, so a figure on disk is never half-written."""
    written = []
    if not style.titles:
        for ax in fig.axes:
            ax.set_title("")
        if fig._suptitle is not None:
            fig._suptitle.set_text("")
    try:
        for suffix in formats or style.formats:
            target = Path(path).with_suffix(f".{suffix}")
            partial = target.with_name(f".{target.name}.partial")
            metadata = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}.get(suffix)
            try:
                with plt.rc_context(style.rc()):
                    fig.savefig(partial, format=suffix, dpi=style.dpi, metadata=metadata)
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
            written.append(target)
    finally:
        plt.close(fig)
    return written


def parse_formats(text: str | None) -> tuple[str, ...] | None:
    """``"pdf,png"`` as ("pdf", "png"); None stays None. Raises ValueError naming an unknown format."""
    if text is None:
        return None
    formats = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"unknown figure format {', '.join(unknown) or repr(text)}; expected some of "
                         f"{', '.join(FORMATS)}")
    return formats
