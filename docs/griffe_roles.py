"""A Griffe extension for the documentation site (mkdocs.yml loads it; the site leaves this file out): the
docstrings' Sphinx roles, :class:`Result` or :func:`~simsplit.scenario.loader.load_scenario`, become code spans
(`Result`, `load_scenario`), as Markdown has no roles."""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj):`(~?)([^`]+)`")


def _code(match: re.Match) -> str:
    short, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


class SphinxRolesAsCode(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(_code, obj.docstring.value)
