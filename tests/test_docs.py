"""The documentation is executed: every fenced code block and every ``simsplit ...`` command in README.md
and docs/*.md runs (or, for commands with placeholders, parses) as written."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from simsplit import simulate
from simsplit.engine.setup import build_setup
from simsplit.scenario import load_scenario

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```", flags=re.S | re.M)
SLOW_COMMANDS = ("simsplit compare",)
"""Documented commands that take more than a few seconds: run with --slow."""


def blocks(path: Path) -> list[tuple[str, str, str]]:
    """(language, info, body) of each fenced block of ``path``."""
    return [(lang, info.strip(), body) for lang, info, body in FENCE.findall(path.read_text())]


def _commands(body: str) -> list[str]:
    """The commands of a bash block: continuation lines joined, comments dropped."""
    joined = body.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        line = re.sub(r"\s#\s.*$", "", line).strip()
        if line and not line.startswith("#"):
            commands.append(" ".join(line.split()))
    return commands


SETUP = re.compile(r"^python3 -m venv \.venv && \. \.venv/bin/activate && pip install -e (\S+) && (.*)$")
DOC_COMMANDS = [(path.name, command) for path in DOCS for lang, _, body in blocks(path) if lang == "bash"
                for command in _commands(body)]


def test_every_fenced_block_is_exercised():
    """A block in a language no test below runs would silently rot: there is none."""
    handled = {("bash", ""), ("python", ""), ("csv", "profile.csv"), ("csv", "payloads.csv"),
               ("yaml", "scenario.yaml"), ("yaml", ""), ("yaml", "calibration.yaml"),
               ("yaml", "sites.yaml"),
               ("mermaid", "")}  # architecture.md's picture: tests/test_layout.py draws it from the code
    for path in DOCS:
        for lang, info, _ in blocks(path):
            if lang:  # a block without a language is a diagram, not code
                assert (lang, info) in handled, f"{path.name}: a ```{lang} {info} block no test runs"
    yaml_plain = [p.name for p in DOCS for lang, info, _ in blocks(p) if lang == "yaml" and not info]
    assert yaml_plain == ["sweeps.md"]


@pytest.fixture
def workspace(tmp_path) -> Path:
    """A folder laid out like the repository (scenarios, traces, examples), where outputs may be written."""
    for name in ("scenarios", "traces", "examples"):
        (tmp_path / name).symlink_to(REPO / name)
    return tmp_path


def _shell(command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_the_two_readme_commands_are_what_ci_runs(workspace):
    """The set-up-and-run command runs the default scenario (without re-installing); the test command is
    the one .ci/run ends with, after installing the same extras."""
    setups = [SETUP.match(c) for _, c in DOC_COMMANDS if SETUP.match(c)]
    assert len(setups) == 2, "README keeps two set-up commands"
    (run_extra, run), (test_extra, test) = (m.groups() for m in setups)
    assert run_extra == "." and run == "simsplit run scenarios/default.yaml"
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == test, "README's test command must be the one CI runs"
    assert "-e '.[ml,dev]'" in "\n".join(ci) and test_extra == "'.[dev]'"
    done = _shell(run, workspace)
    assert done.returncode == 0, done.stderr
    assert (workspace / "results" / "default" / "summary.json").is_file()


@pytest.mark.parametrize("command", [c for _, c in DOC_COMMANDS if not SETUP.match(c)],
                         ids=lambda c: c[:60])
def test_documented_command_runs(command, workspace, request):
    if command.startswith(SLOW_COMMANDS) and not request.config.getoption("--slow"):
        pytest.skip("slow documented command: run with --slow")
    done = _shell(command, workspace)
    assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"


def _inline_commands() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        text = FENCE.sub("", path.read_text())
        found += [(path.name, span) for span in re.findall(r"`(simsplit [^`]+)`", text)]
    return found


@pytest.mark.parametrize("where, command", _inline_commands(), ids=lambda v: v[:50])
def test_inline_command_names_real_commands_and_options(where, command):
    """Commands quoted in prose (with placeholders such as FILE) name existing subcommands and options."""
    import typer

    from simsplit.cli import app
    cli = typer.main.get_command(app)
    words = shlex.split(command.replace("[", " ").replace("]", " ").replace("|", " "))[1:]
    node = cli
    while words and hasattr(node, "commands") and words[0] in node.commands:
        node = node.commands[words.pop(0)]
    assert not hasattr(node, "commands") or not words or words[0].startswith("-"), \
        f"{where}: `{command}`: no subcommand {words[0]!r}"
    options = {opt for param in node.params for opt in (*param.opts, *param.secondary_opts)} | {"--help", "-h"}
    for word in words:
        if word.startswith("-") and word != "-":
            assert word.split("=")[0] in options, f"{where}: `{command}`: no option {word}"


def test_python_blocks_run(workspace, monkeypatch):
    monkeypatch.chdir(workspace)
    for path in DOCS:
        for lang, _, body in blocks(path):
            if lang == "python":
                exec(compile(body, f"{path.name} (python block)", "exec", dont_inherit=True),
                     {"__name__": f"docs_{path.stem}"})
    # docs/plugins.md's block registered its kind: a scenario uses it
    data = load_scenario(REPO / "scenarios" / "default.yaml").model_dump(mode="json")
    data["network"]["uplink"] = {"kind": "half_rate", "rate_mbps": 10.0}
    from simsplit.model.channel.link import channels
    from simsplit.scenario import validate_scenario
    scenario = validate_scenario(data)
    assert channels["half_rate"].build(scenario.network.uplink, None).rate_bps == 5e6


def test_sweep_example_validates(tmp_path):
    body = next(body for lang, info, body in blocks(REPO / "docs" / "sweeps.md") if lang == "yaml")
    folder = tmp_path / "sweeps"
    shutil.copytree(REPO / "scenarios" / "sweeps", folder)
    shutil.copytree(REPO / "scenarios" / "profiles", tmp_path / "profiles")
    shutil.copytree(REPO / "scenarios" / "payloads", tmp_path / "payloads")
    (folder / "doc-example.yaml").write_text(body)
    from simsplit.studies.sweep import load_sweep
    sweep = load_sweep(folder / "doc-example.yaml")
    assert len(sweep.runs) == 2 * 3 * 3  # two networks x three worker counts x three seeds


def test_format_examples_run(tmp_path):
    text = (REPO / "docs" / "formats.md").read_text()
    named = re.findall(r"```(?:csv|yaml) (\S+)\n(.*?)```", text, flags=re.S)
    assert sorted(name for name, _ in named) == ["payloads.csv", "profile.csv", "scenario.yaml"]
    for name, body in named:
        (tmp_path / name).write_text(body)
    scenario = load_scenario(tmp_path / "scenario.yaml")
    setup = build_setup(scenario)
    assert [g.label for g in setup.groups] == ["fixed(1, bottlenet)", "local", "fixed(1, bottlenet)"]
    summary = simulate(scenario).summary
    assert summary["completed"] > 0
    assert set(summary["groups"]) == {"phones", "doorbells", "drone"}


def test_every_path_the_code_and_docs_cite_exists():
    """Docstrings and docs that name a file of the repository (docs/..., scenarios/..., examples/...) name
    one that exists (an illustrative name in an error message excepted)."""
    illustrative = {"scenarios/x.yaml"}
    cited = re.compile(r"(?<![\w/.])((?:docs|scenarios|traces|benchmarks|examples|tests)/[\w./-]+\.(?:md|py|yaml|csv))")
    missing = []
    for path in [*sorted((REPO / "simsplit").rglob("*.py")), *DOCS]:
        for name in cited.findall(path.read_text()):
            if name not in illustrative and not (REPO / name).exists():
                missing.append(f"{path.relative_to(REPO)}: {name}")
    assert not missing


def test_sites_example_validates():
    """docs/engine.md's sites block, added to the city scenario, validates and draws its fields per site."""
    import yaml

    from simsplit.studies.sites import site_values
    body = next(body for lang, info, body in blocks(REPO / "docs" / "engine.md") if info == "sites.yaml")
    data = yaml.safe_load((REPO / "scenarios" / "city.yaml").read_text())
    data.update(yaml.safe_load(body))
    from simsplit.scenario import validate_scenario
    scenario = validate_scenario(data, base_dir=REPO / "scenarios")
    assert scenario.sites.count == 100
    assert set(site_values(scenario, 3)) == {"network.uplink.offset_s", "devices.0.arrivals.rate_hz"}


def test_calibration_example_is_a_valid_configuration():
    """docs/calibration.md's configuration validates, and names the shipped BottleNet calibration's files."""
    import yaml

    from simsplit.studies.calibration.config import CalibrationConfig
    body = next(body for lang, info, body in blocks(REPO / "docs" / "calibration.md") if info == "calibration.yaml")
    config = CalibrationConfig.model_validate(yaml.safe_load(body))
    assert [p.kind for p in config.parameters] == ["head_time", "head_energy", "tail_time", "encode_time",
                                                   "decode_time", "compute_power"]
    shipped = yaml.safe_load((REPO / "scenarios" / "calibration" / "bottlenet-3g.yaml").read_text())
    assert config.scenario == shipped["scenario"] and config.publish.model_dump() == shipped["publish"]


SCENARIO_COMMANDS = [(path.relative_to(REPO).as_posix(), line.lstrip("#").strip())
                     for path in sorted((REPO / "scenarios").rglob("*.yaml"))
                     for line in path.read_text().splitlines() if re.match(r"^#\s+simsplit \w", line)]


@pytest.mark.parametrize("where, command", SCENARIO_COMMANDS, ids=lambda v: v[:60])
def test_a_command_in_a_scenario_comment_names_a_file_and_valid_settings(where, command):
    """The commands a scenario's comment suggests name files that exist; a ``run``'s ``--set`` overrides give a
    valid scenario (running them all is a benchmark's job: the whole city takes minutes)."""
    import shlex

    from simsplit.scenario import load_scenario
    first = command.split("&&")[0]
    words = shlex.split(first)
    files = [w for w in words[2:] if w.endswith(".yaml")]
    assert files and all((REPO / f).is_file() for f in files), command
    if words[1] == "run":
        sets = [words[k + 1] for k, w in enumerate(words) if w == "--set"]
        load_scenario(REPO / files[0], sets)  # raises on an invalid override
