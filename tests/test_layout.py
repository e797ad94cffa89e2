"""The package's layout holds: stages import only from their own stage or below, no import circle, modules and
classes of a readable size, functions of bounded complexity, and an index that finds each module's tests."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "simsplit"
STAGES = ("core", "model", "scenario", "engine", "output", "studies", "figures", "ml", "cli", "gym")
"""The stages in the order data flows through them; a module imports only from its own stage or an earlier one."""
ALLOWED_UPWARD = {
    ("simsplit.output.results", "simsplit.figures.result_plots"): "Result.plot, a thin accessor imported on first use",
}
MAX_MODULE_LINES, MAX_CLASS_LINES, MAX_COMPLEXITY = 450, 200, 15


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """Every simsplit module ``name`` imports, at the top or inside a function (``TYPE_CHECKING`` blocks aside)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1] + [base]).strip(".")
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text()))
    return {target for target in found if target in MODULES and target != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def stage_of(name: str) -> int:
    """Its stage's index; the package root (the public facade) counts as the last stage."""
    parts = name.split(".")
    return STAGES.index(parts[1]) if len(parts) > 1 else len(STAGES)


def test_every_module_lies_in_a_stage():
    loose = [name for name in MODULES if name.count(".") == 1 and name.split(".")[1] not in STAGES]
    assert not loose, f"modules outside the stage folders: {loose}"


def test_no_import_runs_back_up_a_stage():
    upward = [(name, target) for name, targets in GRAPH.items() for target in targets
              if stage_of(target) > stage_of(name) and (name, target) not in ALLOWED_UPWARD]
    assert not upward, "\n".join(f"{a} imports {b}" for a, b in upward)


def test_no_import_circle():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def strongly_connected(name: str) -> None:  # Tarjan's algorithm
        index[name] = low[name] = len(index)
        stack.append(name)
        for target in GRAPH[name]:
            if target not in index:
                strongly_connected(target)
                low[name] = min(low[name], low[target])
            elif target in stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == name:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for name in GRAPH:
        if name not in index:
            strongly_connected(name)
    assert not circles, circles


def test_the_checks_find_what_they_look_for():
    """The graph sees an import inside a function, and the two checks fail on a planted circle and arrow."""
    assert "simsplit.figures.result_plots" in GRAPH["simsplit.output.results"]  # inside a property
    saved = GRAPH["simsplit.core.errors"]
    try:
        GRAPH["simsplit.core.errors"] = saved | {"simsplit.core.config"}  # config imports errors: a circle
        with pytest.raises(AssertionError):
            test_no_import_circle()
        GRAPH["simsplit.core.errors"] = saved | {"simsplit.cli.app"}  # core importing the command line
        with pytest.raises(AssertionError):
            test_no_import_runs_back_up_a_stage()
    finally:
        GRAPH["simsplit.core.errors"] = saved


def test_modules_and_classes_stay_readable():
    too_long = []
    for name, path in MODULES.items():
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES:
                too_long.append(f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not too_long, too_long


def test_no_function_is_too_complex_without_a_reason():
    radon = pytest.importorskip("radon.complexity", reason="radon (the dev extra) measures complexity")
    complex_ = []
    for name, path in MODULES.items():
        for block in radon.cc_visit(path.read_text()):
            for function in [block, *getattr(block, "methods", [])]:
                if function.complexity <= MAX_COMPLEXITY or getattr(function, "is_method", None) is None:
                    continue
                node = _function_node(path, function.lineno)
                if "Complexity:" not in (ast.get_docstring(node) or ""):
                    complex_.append(f"{name}:{function.lineno} {function.name} {function.complexity}")
    assert not complex_, complex_


def _function_node(path: Path, line: int) -> ast.AST:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.lineno == line:
            return node
    raise LookupError(f"{path}:{line}")


# ---------------------------------------------------------------- where a module's tests are
INDEX = REPO / "tests" / "README.md"


def _tests_importing() -> dict[str, set[str]]:
    """Each module -> the test files that import it."""
    found = defaultdict(set)
    for test in sorted(set((REPO / "tests").glob("test_*.py")) - {Path(__file__)}):
        text = test.read_text()
        for name in MODULES:
            if re.search(rf"\b{re.escape(name)}(?!\.?\w)", text):
                found[name].add(test.name)
    return found


def test_the_test_index_names_each_modules_tests():
    """tests/README.md has one row a module: the module and the test files that import it (regenerate it with
    ``python tests/test_layout.py``)."""
    assert INDEX.read_text() == render_index(), "tests/README.md is stale: run python tests/test_layout.py"


def render_index() -> str:
    found = _tests_importing()
    rows = [f"| `{name}` | {', '.join(f'`{t}`' for t in sorted(found[name])) or '(through the modules that use it)'} |"
            for name in MODULES if not name.endswith("__main__")]
    return ("# Where a module's tests are\n\n"
            "Tests are named for what they check (a behaviour, a reference, a kind of input), so a module's tests are\n"
            "found here: each module of `simsplit/` and the test files that import it. A module no test imports is\n"
            "checked through the modules that use it. `tests/test_layout.py` keeps this table current\n"
            "(`python tests/test_layout.py` writes it, with the picture in `docs/architecture.md`).\n\n"
            "| module | test files |\n|---|---|\n" + "\n".join(rows) + "\n")


# ---------------------------------------------------------------- the architecture's picture
ARCHITECTURE = REPO / "docs" / "architecture.md"
BEGIN, END = "<!-- stages: generated by tests/test_layout.py -->", "<!-- end of stages -->"


def render_stages() -> str:
    """A Mermaid flowchart of the stages (and the package root), an arrow where one stage imports another,
    labelled with how many module imports it stands for."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for name, targets in GRAPH.items():
        for target in targets:
            a, b = (n.split(".")[1] if "." in n else "simsplit" for n in (name, target))
            if a != b:
                counts[a, b] += 1
    lines = ["```mermaid", "flowchart BT"]
    lines += [f"    {a} -->|{n}| {b}" for (a, b), n in sorted(counts.items(), key=lambda e: (_rank(e[0][0]), e[0][1]))]
    return "\n".join([BEGIN, *lines, "```", END])


def _rank(stage: str) -> int:
    return STAGES.index(stage) if stage in STAGES else len(STAGES)


def test_the_architecture_picture_is_drawn_from_the_code():
    text = ARCHITECTURE.read_text()
    assert text[text.index(BEGIN):text.index(END) + len(END)] == render_stages(), \
        "docs/architecture.md's picture is stale: run python tests/test_layout.py"


def _write_generated() -> None:
    INDEX.write_text(render_index())
    text = ARCHITECTURE.read_text()
    ARCHITECTURE.write_text(text[:text.index(BEGIN)] + render_stages() + text[text.index(END) + len(END):])


if __name__ == "__main__":
    _write_generated()
