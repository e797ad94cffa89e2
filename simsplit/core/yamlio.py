"""Reading YAML the strict way: what a typo or a hostile file would otherwise slip past.

On top of PyYAML's safe loader this rejects a key given twice in one mapping
(PyYAML keeps the last silently, even for ``seed``), reads YAML 1.1's
base-60 numbers (``1:30``) as strings instead of 90, and refuses a document
whose aliases expand to more than :data:`MAX_NODES` nodes (an alias bomb),
before anything is built from it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

MAX_NODES = 1_000_000
"""Most nodes a document may expand to, aliases counted at every use."""
_MERGE = "tag:yaml.org,2002:merge"


class YamlProblem(Exception):
    """A YAML document that cannot be used: ``where`` is "line L, column C" or None."""

    def __init__(self, where: str | None, message: str):
        super().__init__(message)
        self.where = where


def _where(mark) -> str | None:
    return None if mark is None else f"line {mark.line + 1}, column {mark.column + 1}"


_INT = re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+)$")
_FLOAT = re.compile(r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)


def _numbers_without_base60(resolvers: dict) -> dict:
    """The implicit resolvers with int and float replaced: no base 60 (``1:30`` stays a string), no
    leading-zero octal, and ``1e3`` read as a float as YAML 1.2 does."""
    kept = {first: [(tag, regexp) for tag, regexp in pairs if not tag.endswith((":int", ":float"))]
            for first, pairs in resolvers.items()}
    for tag, regexp, firsts in (("tag:yaml.org,2002:int", _INT, "-+0123456789"),
                                ("tag:yaml.org,2002:float", _FLOAT, "-+0123456789.")):
        for first in firsts:
            kept.setdefault(first, []).append((tag, regexp))
    return kept


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and reads base-60 numbers as strings."""

    yaml_implicit_resolvers = _numbers_without_base60(yaml.SafeLoader.yaml_implicit_resolvers)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: PyYAML reports it below
                    continue
                if first is not None:
                    raise YamlProblem(_where(key_node.start_mark),
                                      f"expected each key once in a mapping, got {key!r} again "
                                      f"(first at {_where(first)})")
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root, limit: int) -> int:
    """Nodes in the tree with every alias expanded (memoised per node, so bombs are counted, not built)."""
    sizes: dict[int, int] = {}
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        kids = []
        if isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            kids = [n for pair in node.value for n in pair]
        if children_done:
            sizes[id(node)] = min(1 + sum(sizes[id(k)] for k in kids), limit + 1)
            continue
        if any(id(k) == id(node) for k in kids):
            raise YamlProblem(_where(node.start_mark), "expected a tree, got a node that contains itself")
        stack.append((node, True))
        stack += [(k, False) for k in kids if id(k) not in sizes]
    return sizes[id(root)]


def load_yaml(text: str) -> Any:
    """Parse one YAML document strictly; raise :class:`YamlProblem` naming the line and column."""
    try:
        loader = StrictLoader(text)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (a NUL byte, say), found at once
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise YamlProblem(f"line {line}, column {column}", f"expected valid YAML, got {exc.reason} "
                          f"(character #x{exc.character:04x})") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, MAX_NODES) > MAX_NODES:
            raise YamlProblem(_where(node.start_mark), f"expected at most {MAX_NODES:,} nodes with aliases "
                              "expanded, got more (an alias bomb?)")
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlProblem(_where(mark), f"expected valid YAML, got a syntax error: {problem}") from None
    except RecursionError:
        raise YamlProblem(None, "expected valid YAML, got nesting too deep to read") from None
    finally:
        loader.dispose()
