"""simsplit calibrate: recovery of known parameters from closed-form measurements, intervals against an
independent linear regression, common random numbers on a stochastic run, identifiability warnings,
hostile configurations, safe publishing, and the shipped BottleNet calibration."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO

from simsplit import simulate
from simsplit.core.errors import InputError
from simsplit.scenario import load_scenario
from simsplit.studies.calibration import Problem, calibrate, fit
from simsplit.studies.calibration.output import MARK, check_publish, publish

HEAD_MS = np.array([0.0, 2.0, 5.0, 9.0])
TAIL_MS = np.array([6.0, 4.0, 1.5, 0.0])
BYTES = {0: 2000, 1: 300, 2: 200}
ENCODE_MS = {0: 1.0, 1: 0.5, 2: 0.5}
DECODE_MS = {0: 0.5, 1: 0.25, 2: 0.25}
UP_BPS, DOWN_BPS, RESULT_BYTES = 8e6, 16e6, 100
LTE = (0.43839e-6, 0.05197e-6, 1.28804)  # alpha_up W per bit/s, alpha_down, beta W
GROUPS = {"local": 3, "full": 0, "split1": 1, "split2": 2}


def write_toy(folder: Path, head_ms=HEAD_MS, tail_ms=TAIL_MS, power_w=1.5, arrivals=None, variability=None):
    """A three-block model on a phone and a GPU, one group per split, and its scenario file."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = "\n".join(f"{k},b{k},{h},{t},{1000 * (4 - k)}"
                     for k, (h, t) in enumerate(zip(head_ms, tail_ms, strict=True)))
    (folder / "profile.csv").write_text("# toy\nsplit,name,head_ms_phone,tail_ms_gpu,output_bytes\n" + rows + "\n")
    (folder / "payloads.csv").write_text(
        "split,bottleneck,bytes,accuracy,encode_ms,decode_ms\n"
        + "".join(f"{k},{'raw' if k == 0 else 'bn'},{BYTES[k]},0.7,{ENCODE_MS[k]},{DECODE_MS[k]}\n" for k in BYTES)
        + "3,none,0,0.75,0,0\n")
    strategies = {"local": {"kind": "local"}, "full": {"kind": "full_offload"},
                  "split1": {"kind": "fixed", "split": 1, "bottleneck": "bn"},
                  "split2": {"kind": "fixed", "split": 2, "bottleneck": "bn"}}
    scenario = {
        "name": "toy", "seed": 4, "duration_s": 3.0,
        "model": {"profile": "profile.csv", "payloads": "payloads.csv", "result_bytes": RESULT_BYTES},
        "devices": [{"name": name, "device_class": "phone", "compute_power_w": power_w,
                     "arrivals": arrivals or {"kind": "periodic", "rate_hz": 1.0}, "strategy": strategy}
                    for name, strategy in strategies.items()],
        "network": {"uplink": {"kind": "constant", "rate_mbps": UP_BPS / 1e6},
                    "downlink": {"kind": "constant", "rate_mbps": DOWN_BPS / 1e6}, "radio": {"technology": "lte"}},
        "server": {"server_class": "gpu", "workers": 4,
                   "service_variability": variability or {"kind": "deterministic"}},
        "strategy": {"kind": "local"},
    }
    (folder / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    return folder / "scenario.yaml"


def closed_form(split: int, head_ms, tail_scale: float, power_w: float) -> tuple[float, float]:
    """(latency s, energy J) of one request alone, by hand."""
    if split == 3:
        return head_ms[3] * 1e-3, power_w * head_ms[3] * 1e-3
    alpha_up, alpha_down, beta = LTE
    device_s = (head_ms[split] + ENCODE_MS[split]) * 1e-3
    up_s, down_s = BYTES[split] * 8 / UP_BPS, RESULT_BYTES * 8 / DOWN_BPS
    server_s = (tail_scale * TAIL_MS[split] + DECODE_MS[split]) * 1e-3
    energy = power_w * device_s + (alpha_up * UP_BPS + beta) * up_s + (alpha_down * DOWN_BPS + beta) * down_s
    return device_s + up_s + server_s + down_s, energy


def write_config(folder: Path, parameters: list, measurements: dict, sd: dict | None = None, **extra) -> Path:
    lines = ["group,latency_ms,energy_mj" + (",latency_sd_ms,energy_sd_mj" if sd else "")]
    for group, (latency, energy) in measurements.items():
        row = f"{group},{float(latency) * 1e3!r},{float(energy) * 1e3!r}"
        lines.append(row + (f",{sd['latency'] * 1e3!r},{sd['energy'] * 1e3!r}" if sd else ""))
    (folder / "measured.csv").write_text("\n".join(lines) + "\n")
    config = {"scenario": "scenario.yaml", "measurements": "measured.csv", "parameters": parameters, **extra}
    (folder / "calibration.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder / "calibration.yaml"


TRUE_HEAD_MS = np.array([0.0, 1.2, 4.4, 10.1])
TRUE_SCALE, TRUE_POWER = 0.6, 2.2
FIT_ALL = [{"kind": "head_time", "device_class": "phone"}, {"kind": "tail_time", "server_class": "gpu"},
           {"kind": "compute_power"}]


def test_recovers_known_parameters_from_closed_form_measurements(tmp_path):
    write_toy(tmp_path)  # the scenario starts from the wrong head times, server speed and power
    truth = {g: closed_form(k, TRUE_HEAD_MS, TRUE_SCALE, TRUE_POWER) for g, k in GROUPS.items()}
    result = calibrate(write_config(tmp_path, FIT_ALL, truth))
    expected = np.concatenate([np.diff(TRUE_HEAD_MS), [TRUE_SCALE, TRUE_POWER]])
    assert result.values == pytest.approx(expected, rel=1e-6)
    assert np.abs(result.fitted - np.array([m.value for m in result.measurements])).max() < 1e-9
    assert result.dof == 8 - 5 and not result.warnings
    assert result.parameters.labels == ["head_time[phone] b1", "head_time[phone] b2", "head_time[phone] b3",
                                        "tail_time[gpu] factor", "compute_power[all groups]"]


def test_intervals_match_an_independent_weighted_regression(tmp_path):
    """With the power fixed the model is linear in the block times and the server factor: the intervals must
    be those of weighted linear least squares with known standard deviations, computed here by hand."""
    write_toy(tmp_path, power_w=TRUE_POWER)
    rng = np.random.default_rng(7)
    sd = {"latency": 0.2e-3, "energy": 0.3e-3}
    noisy = {}
    for group, split in GROUPS.items():
        latency, energy = closed_form(split, TRUE_HEAD_MS, TRUE_SCALE, TRUE_POWER)
        noisy[group] = (latency + rng.normal(0, sd["latency"]), energy + rng.normal(0, sd["energy"]))
    result = calibrate(write_config(tmp_path, FIT_ALL[:2], noisy, sd=sd))
    # design: columns b1, b2, b3 (ms), s; rows in the measurement order, values in s or J per unit
    rows, targets, sigmas = [], [], []
    for m in result.measurements:
        split = GROUPS[m.group]
        blocks = np.array([1.0 if j < split or split == 3 else 0.0 for j in range(3)]) * 1e-3
        tail = 0.0 if split == 3 else TAIL_MS[split] * 1e-3
        offset_latency, offset_energy = closed_form(split, np.zeros(4), 0.0, TRUE_POWER)
        if m.quantity == "latency":
            rows.append([*blocks, tail])
            targets.append(m.value - offset_latency)
        else:
            rows.append([*(TRUE_POWER * blocks), 0.0])
            targets.append(m.value - offset_energy)
        sigmas.append(sd[m.quantity])
    A = np.array(rows) / np.array(sigmas)[:, None]
    b = np.array(targets) / np.array(sigmas)
    beta = np.linalg.lstsq(A, b, rcond=None)[0]
    half = 1.959963984540054 * np.sqrt(np.diag(np.linalg.inv(A.T @ A)))
    assert result.values == pytest.approx(beta, rel=1e-5)
    assert result.ci_high - result.values == pytest.approx(half, rel=1e-4)
    assert (result.ci_low <= np.concatenate([np.diff(TRUE_HEAD_MS), [TRUE_SCALE]])).all()


def test_stochastic_run_is_fitted_with_common_random_numbers(tmp_path):
    """Poisson arrivals queueing at one exponential server: measurements made by the simulator at a known
    server speed are recovered (the same seeds make the model a deterministic function of the parameters)."""
    scenario_path = write_toy(tmp_path, arrivals={"kind": "poisson", "rate_hz": 15.0},
                              variability={"kind": "exponential"})
    data = yaml.safe_load(scenario_path.read_text())
    data["server"]["workers"] = 1
    data["duration_s"] = 40.0
    data["devices"] = [g for g in data["devices"] if g["name"] in ("full", "split1")]
    truth_profile = tmp_path / "truth.csv"
    truth_profile.write_text((tmp_path / "profile.csv").read_text().replace("0,b0,0.0,6.0", "0,b0,0.0,14.0")
                             .replace("1,b1,2.0,4.0", "1,b1,2.0,9.0"))
    assert truth_profile.read_text() != (tmp_path / "profile.csv").read_text()
    measured = {}
    for seed in (1, 2):
        truth = dict(data, seed=seed, model=dict(data["model"], profile="truth.csv"))
        (tmp_path / "truth.yaml").write_text(yaml.safe_dump(truth))
        groups = simulate(load_scenario(tmp_path / "truth.yaml")).summary["groups"]
        for name in ("full", "split1"):
            measured.setdefault(name, []).append([groups[name]["latency_s"]["mean"], groups[name]["energy_j"]["total"]])
    scenario_path.write_text(yaml.safe_dump(data))
    measurements = {name: tuple(np.mean(values, axis=0)) for name, values in measured.items()}
    config = write_config(tmp_path, [{"kind": "tail_time", "server_class": "gpu", "structure": "per_block"}],
                          measurements, seeds=[1, 2], diff_step=1e-4)
    result = calibrate(config)
    # truth: remaining tail 14 ms at split 0 and 9 ms at split 1, so blocks b1 = 5 ms and b2 + b3 = 9 ms
    assert result.values[0] == pytest.approx(5.0, rel=1e-4)
    assert result.values[1] + result.values[2] == pytest.approx(9.0, rel=1e-4)
    assert any("cannot tell apart tail_time[gpu] b2, tail_time[gpu] b3" in w for w in result.warnings)


def test_unidentifiable_combinations_are_named(tmp_path):
    write_toy(tmp_path)
    truth = {g: closed_form(k, TRUE_HEAD_MS, TRUE_SCALE, 1.5) for g, k in GROUPS.items()}
    config = write_config(tmp_path, [{"kind": "head_time", "device_class": "phone"},
                                     {"kind": "encode_time", "bottleneck": "bn"}], truth)
    result = calibrate(config)
    # split k sees b1 + ... + bk + encode, local sees b1 + b2 + b3: moving time from b1 to the encoder and
    # adding it back in b3 changes nothing
    assert any(w.startswith("the measurements cannot tell apart head_time[phone] b1, head_time[phone] b3, "
                            "encode_time[bn]") for w in result.warnings), result.warnings
    only_local = write_config(tmp_path, FIT_ALL[1:2], {"local": truth["local"]})
    assert any("no measurement depends on tail_time[gpu] factor" in w for w in calibrate(only_local).warnings)


@pytest.mark.parametrize("edit,where", [
    ({"parameters": [{"kind": "head_speed", "device_class": "phone"}]}, r"parameters\.0\.kind"),
    ({"parameters": [{"kind": "head_time", "device_class": "watch"}]},
     r"parameters\.0\.device_class: expected one of \['phone'\], got 'watch'"),
    ({"parameters": [{"kind": "tail_time", "server_class": "gpu", "min": -1}]}, r"parameters\.0\.min"),
    ({"parameters": [{"kind": "tail_time", "server_class": "gpu", "max": float("nan")}]}, r"parameters\.0\.max"),
    ({"parameters": [{"kind": "compute_power", "groups": ["local", "nobody"]}]},
     r"parameters\.0\.groups: expected device groups of the scenario, got 'nobody'"),
    ({"parameters": [{"kind": "encode_time", "bottleneck": "bn"}, {"kind": "encode_time", "bottleneck": "bn"}]},
     r"parameters\.1: expected each encode_time target once"),
    ({"parameters": []}, r"parameters"),
    ({"parameters": [{"kind": "tail_time", "server_class": "gpu", "min": 5, "max": 5}]},
     r"parameters\.0\.max: expected a bound above min \(5\), got 5"),
    ({"parameters": [{"kind": "tail_time", "server_class": "gpu", "min": 9, "max": 2}]}, r"parameters\.0\.max"),
    ({"parameters": [{"kind": "tail_time", "server_class": "gpu", "min": 1e14}]}, r"parameters\.0\.min"),
    ({"parameters": [{"kind": "compute_power", "groups": []}]}, r"parameters\.0\.groups"),
    ({"seeds": [-1]}, r"seeds\.0"),
    ({"duration_s": 0}, r"duration_s"),
    ({"diff_step": True}, r"diff_step"),
    ({"latency_statistic": "p42"}, r"latency_statistic"),
    ({"colour": "red"}, r"colour"),
    ({"scenario": "missing.yaml"}, r"missing\.yaml: file not found"),
])
def test_hostile_configurations_are_refused_with_one_line(tmp_path, edit, where):
    write_toy(tmp_path)
    config = write_config(tmp_path, FIT_ALL, {"local": (0.01, 0.02)})
    data = {**yaml.safe_load(config.read_text()), **edit}
    config.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match=where) as info:
        Problem(config)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("table,where", [
    ("group,latency_ms\nnobody,3\n", r"line 2, column group: expected a device group of the scenario, got 'nobody'"),
    ("group,latency_ms\nlocal,3\nlocal,4\n", r"line 3, column group: expected one row per group"),
    ("group,latency_ms\nlocal,0\n", r"line 2, column latency_ms: expected a number > 0"),
    ("group,latency_ms\nlocal,inf\n", r"line 2, column latency_ms"),
    ("group,latency_ms,energy_mj\nlocal,,\n", r"line 2: expected a latency_ms or an energy_mj value"),
    ("group,latency_ms,latency_sd_ms\nlocal,3,0.1\nfull,4,\n", r"line 3: expected a standard deviation for every"),
    ("group,latency_ms,latency_sd_ms\nlocal,3,0\n", r"line 2, column latency_sd_ms: expected a number > 0"),
    ("group,latency_ms,latency_sd_ms\nlocal,3,1e-300\n",
     r"line 2, column latency_sd_ms: expected a standard deviation of at least 1e-09 of the value"),
    ("group,speed\nlocal,3\n", r"unknown column 'speed'"),
    ("group,note\nlocal,hi\n", r"header: expected a latency_ms or an energy_mj column"),
])
def test_hostile_measurements_are_refused(tmp_path, table, where):
    write_toy(tmp_path)
    config = write_config(tmp_path, FIT_ALL, {"local": (0.01, 0.02)})
    (tmp_path / "measured.csv").write_text(table)
    with pytest.raises(InputError, match=where):
        Problem(config)


def test_publishing_never_replaces_a_file_it_did_not_write(tmp_path):
    write_toy(tmp_path)
    truth = {g: closed_form(k, TRUE_HEAD_MS, TRUE_SCALE, TRUE_POWER) for g, k in GROUPS.items()}
    targets = {"scenario": "out/toy-calibrated.yaml", "profile": "out/profile.csv", "payloads": "out/payloads.csv"}
    config = write_config(tmp_path, FIT_ALL, truth, publish=targets)
    (tmp_path / "out").mkdir()
    (tmp_path / "out/profile.csv").write_text("my own notes\n")
    with pytest.raises(InputError, match=r"publish\.profile: refusing to replace .*profile\.csv"):
        check_publish(Problem(config))
    assert (tmp_path / "out/profile.csv").read_text() == "my own notes\n"
    (tmp_path / "out/profile.csv").unlink()
    problem = Problem(config)
    paths = check_publish(problem)
    result = fit(problem)
    publish(result, paths)
    assert all((tmp_path / path).read_text().startswith(MARK) for path in targets.values())
    publish(result, check_publish(Problem(config)))  # its own files are replaced
    # the published scenario runs as is and gives the fitted values
    groups = simulate(load_scenario(tmp_path / targets["scenario"])).summary["groups"]
    for m, fitted in zip(result.measurements, result.fitted, strict=True):
        group = groups[m.group]
        value = group["latency_s"]["mean"] if m.quantity == "latency" else group["energy_j"]["total"]
        assert value == fitted
    assert load_scenario(tmp_path / targets["scenario"]).name == "toy-calibrated"


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simsplit.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO)


def test_cli_writes_a_result_folder_and_refuses_bad_input(tmp_path):
    write_toy(tmp_path)
    truth = {g: closed_form(k, TRUE_HEAD_MS, TRUE_SCALE, TRUE_POWER) for g, k in GROUPS.items()}
    config = write_config(tmp_path, FIT_ALL, truth)
    out = tmp_path / "fit"
    done = run_cli("calibrate", str(config), "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [p["fitted"] for p in report["parameters"]] == pytest.approx([1.2, 3.2, 5.7, 0.6, 2.2], rel=1e-6)
    assert sorted(p.name for p in out.iterdir()) == [
        ".simsplit", "calibration.json", "calibration.yaml", "parameters.csv", "payloads.csv", "predictions.csv",
        "profile.csv", "residuals.csv", "scenario.yaml"]
    predictions = pd.read_csv(out / "predictions.csv").set_index("group")
    assert predictions.loc["split1", "latency_mean_ms"] == pytest.approx(truth["split1"][0] * 1e3, rel=1e-9)
    groups = simulate(load_scenario(out / "scenario.yaml")).summary["groups"]
    assert groups["split2"]["energy_j"]["total"] * 1e3 == pytest.approx(truth["split2"][1] * 1e3, rel=1e-9)
    (tmp_path / "measured.csv").write_text("group,latency_ms\nlocal,-3\n")
    bad = run_cli("calibrate", str(config), "--out", str(out))
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "measured.csv: line 2, column latency_ms" in bad.stderr
    user = tmp_path / "mine"
    user.mkdir()
    (tmp_path / "measured.csv").write_text("group,latency_ms\nlocal,3\n")
    refused = run_cli("calibrate", str(config), "--out", str(user))
    assert refused.returncode == 2 and "not written by simsplit" in refused.stderr


# ---------------------------------------------------------------- BottleNet's 3G rows
CALIBRATION = REPO / "scenarios" / "calibration"
SHARED_ROWS = REPO.parent / "shared" / "reference" / "bottlenet-3g.csv"


def test_shipped_measurements_are_the_papers_3g_rows():
    if not SHARED_ROWS.exists():
        pytest.skip("../shared/reference/bottlenet-3g.csv is not beside the repository")
    reference = list(csv.DictReader(line for line in SHARED_ROWS.read_text().splitlines() if not line.startswith("#")))
    shipped = pd.read_csv(CALIBRATION / "bottlenet-3g-measured.csv", comment="#").set_index("group")
    assert len(shipped) == len(reference) == 18
    for row in reference:
        group = {"mobile-only": "mobile-only", "cloud-only": "3g-cloud-only"}.get(row["configuration"],
                                                                                f"3g-rb{row['split']}")
        assert shipped.loc[group, "latency_ms"] == float(row["latency_ms"])
        assert shipped.loc[group, "energy_mj"] == float(row["energy_mj"])


@pytest.mark.slow
def test_bottlenet_calibration_is_shipped_up_to_date_and_predicts_by_hand(tmp_path):
    """Rerun the shipped calibration (publishing into a scratch copy): the shipped files are what it writes;
    the 3G rows fit within 2% except the cloud-only energy, which the paper's own radio model misses by
    ~12%; the 4G and Wi-Fi predictions equal a hand computation from the calibrated tables; RB1 is the
    best split on every network."""
    work = tmp_path / "scenarios"
    shutil.copytree(REPO / "scenarios", work, ignore=shutil.ignore_patterns("*.png"))
    result = calibrate(work / "calibration" / "bottlenet-3g.yaml")
    problem = Problem(work / "calibration" / "bottlenet-3g.yaml")
    publish(result, check_publish(problem))
    for name in ("bottlenet-calibrated.yaml", "profiles/resnet50-bottlenet-calibrated.csv",
                 "payloads/resnet50-bottlenet-calibrated.csv"):
        assert (work / name).read_text() == (REPO / "scenarios" / name).read_text(), f"{name} is out of date"
    errors = {(m.group, m.quantity): (f - m.value) / m.value
              for m, f in zip(result.measurements, result.fitted, strict=True)}
    assert errors.pop(("3g-cloud-only", "energy")) == pytest.approx(0.1178, abs=0.001)
    assert max(abs(e) for e in errors.values()) < 0.02
    profile = pd.read_csv(REPO / "scenarios/profiles/resnet50-bottlenet-calibrated.csv", comment="#")
    head_ms, head_mj = profile["head_ms_jetson-tx2"].to_numpy(), profile["head_mj_jetson-tx2"].to_numpy()
    tail_ms = profile["tail_ms_gtx1080ti"].to_numpy()
    payloads = pd.read_csv(REPO / "scenarios/payloads/resnet50-bottlenet-calibrated.csv", comment="#")
    groups = simulate(load_scenario(REPO / "scenarios/bottlenet-calibrated.yaml")).summary["groups"]
    networks = {"4g": (5.85, 12.74, 438.39, 51.97, 1288.04), "wifi": (18.88, 20.0, 283.17, 137.01, 132.86)}
    for net, (up, down, alpha_up, alpha_down, beta) in networks.items():
        best = {}
        for split in range(0, 17):
            row = payloads[payloads["split"] == split].iloc[0]
            up_ms, down_ms = row["bytes"] * 8 / (up * 1e3), 8 * 8 / (down * 1e3)
            latency = head_ms[split] + row["encode_ms"] + up_ms + tail_ms[split] + row["decode_ms"] + down_ms
            energy = (head_mj[split] + 1.306 * row["encode_ms"] + (alpha_up * up + beta) * up_ms / 1e3
                      + (alpha_down * down + beta) * down_ms / 1e3)
            name = f"{net}-cloud-only" if split == 0 else f"{net}-rb{split}"
            assert groups[name]["latency_s"]["mean"] * 1e3 == pytest.approx(latency, rel=1e-9)
            assert groups[name]["energy_j"]["total"] * 1e3 == pytest.approx(energy, rel=1e-9)
            if split:
                best[split] = (latency, energy)
        assert min(best, key=lambda k: best[k][0]) == 1 and min(best, key=lambda k: best[k][1]) == 1


def test_publishing_is_all_or_nothing(tmp_path, monkeypatch):
    """A folder that cannot be written is refused before the fit; a failure while the files replace their
    previous versions puts every one back (the published scenario never names a table that is not there)."""
    import os

    from simsplit.studies.calibration import output
    write_toy(tmp_path)
    truth = {g: closed_form(k, TRUE_HEAD_MS, TRUE_SCALE, TRUE_POWER) for g, k in GROUPS.items()}
    targets = {"scenario": "out/toy-calibrated.yaml", "profile": "tables/profile.csv", "payloads": "out/payloads.csv"}
    config = write_config(tmp_path, FIT_ALL, truth, publish=targets)
    (tmp_path / "out").mkdir()
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables").chmod(0o500)
    try:
        if not os.access(tmp_path / "tables", os.W_OK):
            with pytest.raises(InputError, match=r"publish\.profile: expected a folder simsplit may write"):
                check_publish(Problem(config))
    finally:
        (tmp_path / "tables").chmod(0o700)
    problem = Problem(config)
    paths = check_publish(problem)
    result = fit(problem)
    publish(result, paths)
    before = {role: path.read_text() for role, path in paths.items()}
    real_replace = os.replace

    def failing_replace(source, destination):  # the new scenario cannot take its place
        if Path(destination) == paths["scenario"] and ".previous-" not in Path(source).name:
            raise PermissionError(13, "Permission denied", str(destination))
        return real_replace(source, destination)

    monkeypatch.setattr(output.os, "replace", failing_replace)
    with pytest.raises(InputError, match="could not publish the calibration .*nothing was published"):
        publish(result, paths)
    monkeypatch.undo()
    assert {role: path.read_text() for role, path in paths.items()} == before
    left = [sorted(p.name for p in (tmp_path / folder).iterdir()) for folder in ("out", "tables")]
    assert left == [["payloads.csv", "toy-calibrated.yaml"], ["profile.csv"]]


def test_a_fit_this_machine_cannot_finish_is_refused_with_its_estimate(tmp_path):
    """duration_s 1e9 (the simulations would need terabytes), or 100,000 seeds (hundreds of hours)."""
    write_toy(tmp_path)
    config = write_config(tmp_path, FIT_ALL, {"local": (0.01, 0.02)})
    data = yaml.safe_load(config.read_text())
    for edit in ({"duration_s": 1e9}, {"seeds": list(range(100_000))}):
        config.write_text(yaml.safe_dump({**data, **edit}))
        with pytest.raises(InputError, match=r"the fit's simulations \(about [0-9,]+: its seeds times 10 per "
                                             r"parameter\): expected a run that (fits|finishes)") as info:
            Problem(config).check_feasible()
        assert str(info.value).startswith(str(config))
    Problem(config).check_feasible(force=True)
