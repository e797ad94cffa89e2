"""Plugins are Python code: running a scenario that names them says so first, one that exits at import is an
input error (not a finished run), and reading a result folder (``report``, ``plot``) never runs the code it
holds."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

EXAMPLE = REPO / "examples" / "plugins" / "scenario.yaml"


def _cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simsplit.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def _with_plugin(folder, code: str) -> str:
    """A copy of the example scenario (its own plugins) plus ``trap.py`` holding ``code``."""
    (folder / "trap.py").write_text(code)
    for name in ("duty_cycle_channel.py", "threshold_strategy.py"):
        (folder / name).write_text((EXAMPLE.parent / name).read_text())
    text = EXAMPLE.read_text().replace("../../scenarios/", str(REPO / "scenarios") + "/")
    scenario = folder / "s.yaml"
    scenario.write_text(text.replace("plugins: [duty_cycle_channel.py, threshold_strategy.py]",
                                     "plugins: [duty_cycle_channel.py, threshold_strategy.py, trap.py]"))
    return str(scenario)


def test_running_a_scenario_names_each_plugin_before_its_code_runs(tmp_path):
    scenario = _with_plugin(tmp_path, f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    done = _cli("run", scenario, "--out", tmp_path / "run", "--set", "duration_s=5")
    assert done.returncode == 0, done.stderr
    notices = [line for line in done.stderr.splitlines() if line.startswith("simsplit: running plugin ")]
    assert [line.split()[3].rsplit("/", 1)[-1] for line in notices] == [
        "duty_cycle_channel.py", "threshold_strategy.py", "trap.py"]
    assert (tmp_path / "ran").exists()


def test_a_plugin_that_exits_at_import_is_an_input_error_and_writes_nothing(tmp_path):
    scenario = _with_plugin(tmp_path, "import sys\nsys.exit(0)\n")
    done = _cli("run", scenario, "--out", tmp_path / "run", "--set", "duration_s=5")
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {scenario}: plugins.2: SystemExit loading trap.py: 0"], done.stderr
    assert not (tmp_path / "run").exists()


def test_report_and_plot_of_a_folder_never_run_its_plugins(tmp_path):
    """A result folder sent by someone else: its scenario names plugins whose copies it holds; one of them (a
    trap put there afterwards) would leave a file behind if it ran. The report and the figures are drawn,
    the time series of a monitored run left out (its scenario cannot be read without its code), nothing runs."""
    scenario = _with_plugin(tmp_path, "")
    done = _cli("run", scenario, "--out", tmp_path / "run", "--set", "duration_s=5", "--monitor", "0.5")
    assert done.returncode == 0, done.stderr
    trap = tmp_path / "run" / "plugins" / "trap.py"
    trap.write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    for command in ("report", "plot"):
        done = _cli(command, tmp_path / "run")
        assert done.returncode == 0, done.stderr
        assert "running plugin" not in done.stderr
        assert not (tmp_path / "ran").exists(), command
    assert (tmp_path / "run" / "report.html").is_file()
    assert not (tmp_path / "run" / "figures" / "timeseries.png").exists()
