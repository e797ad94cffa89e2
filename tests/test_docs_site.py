"""The documentation site (mkdocs.yml) builds with no warning (``mkdocs build --strict``): every page of docs/,
the tutorial among them, and the API reference, whose entries are the public functions' own docstrings."""

from __future__ import annotations

import html
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

import simsplit

pytest.importorskip("mkdocs", reason="mkdocs is not installed (the dev extra installs it): the site is not built")
pytest.importorskip("mkdocstrings_handlers.python",
                    reason="mkdocstrings[python] is not installed (the dev extra installs it): the site is not built")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site built strictly (a warning is an error) into a temporary folder, never into the repository."""
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return out


def text_of(page: str) -> str:
    """A page's words: tags dropped (inline ones join their neighbours: ``(<code>x</code>;`` reads ``(x;``),
    entities decoded, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())


def first_paragraph(function) -> str:
    """The first paragraph of ``function``'s docstring as the page shows it: Sphinx roles and backticks
    become plain code (docs/griffe_roles.py), ``~a.b.c`` shows as ``c``."""
    paragraph = inspect.getdoc(function).split("\n\n")[0]
    paragraph = re.sub(r":\w+:`~[\w.]*?(\w+)`", r"\1", paragraph)
    paragraph = re.sub(r":\w+:`([^`]+)`", r"\1", paragraph)
    return " ".join(paragraph.replace("``", "").split())


@pytest.mark.parametrize("name", ["simulate", "compare", "sweep", "load_scenario"])
def test_the_api_page_renders_the_public_functions_docstrings(site, name):
    page = (site / "api" / "index.html").read_text()
    function = getattr(simsplit, name)
    assert f'id="{function.__module__}.{name}"' in page, f"no entry for simsplit.{name}"
    assert first_paragraph(function) in text_of(page)
    assert ":class:" not in page and ":func:" not in page  # roles rendered as code


def test_the_api_page_has_every_public_name(site):
    """A name added to simsplit.__all__ gets its entry in docs/api.md."""
    page = (site / "api" / "index.html").read_text()
    missing = [name for name in simsplit.__all__ if name != "__version__"
               and f'id="{getattr(simsplit, name).__module__}.{name}"' not in page]
    assert not missing, f"docs/api.md lacks ::: entries for {missing}"


def test_the_tutorial_and_every_page_are_built(site):
    tutorial = (site / "tutorial" / "index.html").read_text()
    assert "Your first hour with simsplit" in tutorial and "simsplit compare default" in text_of(tutorial)
    assert (site / "tutorial-pareto.png").is_file()
    for page in sorted((REPO / "docs").glob("*.md")):
        built = site / "index.html" if page.stem == "index" else site / page.stem / "index.html"
        assert built.is_file(), f"{page.name} is not in the site"
    assert not list(site.rglob("*.py")), "the site carries Python files (docs/griffe_roles.py is mkdocs' own)"
