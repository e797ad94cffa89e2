"""A scenario with sites is checked whole before any work: every site's draws (validate and run refuse what a
worker would), the worst site's memory and the whole run's time with what a site costs beyond its simulation;
a bad --scheduler is one line, before any work; an input error found in a worker reaches the command line as
one line."""

from __future__ import annotations

import pickle

import pytest
from conftest import REPO

from simsplit.cli import main
from simsplit.core.errors import InputError
from simsplit.engine.feasibility import estimate
from simsplit.engine.setup import build_setup
from simsplit.scenario import validate_scenario
from simsplit.studies.site_checks import SITE_OVERHEAD_S, check_sites
from simsplit.studies.sites import run_sites, site_scenario


def sites_scenario(vary: list[dict], count: int = 4) -> dict:
    return {
        "name": "sites", "seed": 7, "duration_s": 20, "warmup_s": 1,
        "model": {"profile": str(REPO / "scenarios/profiles/resnet50-bottlenet.csv"),
                  "payloads": str(REPO / "scenarios/payloads/resnet50-bottlenet.csv")},
        "sites": {"count": count, "vary": vary},
        "devices": [{"name": "cameras", "count": 2, "device_class": "jetson-tx2", "compute_power_w": 1.3,
                     "arrivals": {"kind": "periodic", "rate_hz": 2}}],
        "network": {"uplink": {"kind": "constant", "rate_mbps": 5},
                    "downlink": {"kind": "constant", "rate_mbps": 12.74}, "radio": {"technology": "lte"}},
        "server": {"server_class": "gtx1080ti", "workers": 4},
        "strategy": {"kind": "fixed", "split": 8, "bottleneck": "bottlenet"},
    }


def write(tmp_path, data: dict):
    import yaml
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def cli(capsys, *args) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def test_a_bad_draw_of_any_site_is_refused_by_validate_and_run_before_any_work(tmp_path, capsys):
    """Site 2 draws a negative rate (site 0 draws a good one, as the old check read only site 0)."""
    path = write(tmp_path, sites_scenario([{"field": "network.uplink.rate_mbps", "uniform": [-5, 5]}]))
    for args in (["validate", path], ["run", path, "--out", str(tmp_path / "out"), "--workers", "2"]):
        code, err = cli(capsys, *args)
        assert code == 2 and err.count("\n") == 1, err
        assert "(site 2): network.uplink.rate_mbps: expected a number > 0.0" in err
    assert not (tmp_path / "out").exists()


def test_the_worst_site_sets_the_memory_estimate(tmp_path, capsys):
    path = write(tmp_path, sites_scenario([{"field": "devices.0.count", "choice": [1, 10_000_000]}]))
    code, err = cli(capsys, "validate", path)
    assert code == 2 and "expected a run that fits in this machine's memory" in err, err
    scenario = validate_scenario(sites_scenario([{"field": "devices.0.count", "choice": [1, 3]}], count=8))
    counts = [site_scenario(scenario, site).devices[0].count for site in range(8)]
    assert counts[0] == 1 and 3 in counts  # site 0 alone would understate it
    plain = sites_scenario([])
    plain.pop("sites")
    plain["devices"][0]["count"] = 3
    _, worst = check_sites(scenario)
    assert worst.requests == estimate(build_setup(validate_scenario(plain))).requests


def test_a_count_of_sites_past_a_day_is_refused_with_its_estimate(tmp_path, capsys):
    path = write(tmp_path, sites_scenario([], count=1_000_000))
    code, err = cli(capsys, "validate", path)
    assert code == 2 and err.count("\n") == 1
    hours = 1_000_000 * SITE_OVERHEAD_S / 3600
    assert f"sites.count: expected a run that finishes within 24 h here: 1,000,000 sites take at least {hours:,.1f} h" \
        in err


@pytest.mark.parametrize("scheduler", ["garbage", "", "tcp://", "inproc://x", "tls://host:8786", "ucx://host:1",
                                       "tcp://127.0.0.1:99999", "tcp://127.0.0.1:1"])
@pytest.mark.parametrize("command", ["run", "sweep"])
def test_a_bad_scheduler_is_one_line_before_any_work(tmp_path, capsys, scheduler, command):
    scenario = write(tmp_path, sites_scenario([]))
    target = scenario if command == "run" else str(REPO / "scenarios" / "sweeps" / "bottlenet-networks.yaml")
    code, err = cli(capsys, command, target, "--scheduler", scheduler, "--out", str(tmp_path / "out"))
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: --scheduler: "), err
    assert not (tmp_path / "out").exists()


def test_an_input_error_crosses_from_a_worker_as_itself(tmp_path):
    error = InputError("s.yaml (site 2)", "network.uplink.rate_mbps", "expected a number > 0.0, got -1")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is InputError and str(again) == str(error) and again.where == error.where
    scenario = validate_scenario(sites_scenario([{"field": "network.uplink.rate_mbps", "uniform": [-5, 5]}]))
    with pytest.raises(InputError, match=r"\(site [23]\): network.uplink.rate_mbps"):  # sites 2 and 3 draw below 0
        run_sites(scenario, None, workers=2)  # the library call, without the command line's check first


@pytest.mark.parametrize("field", ["strategy", "strategy.split", "devices.0.strategy", "model.result_bytes"])
def test_sites_may_not_differ_in_their_model_or_strategy(tmp_path, capsys, field):
    """Their results merge option by option: a strategy that differs by site used to crash after every site
    ran."""
    data = sites_scenario([{"field": field, "choice": [1, 8]}])
    data["devices"][0]["strategy"] = {"kind": "fixed", "split": 8, "bottleneck": "bottlenet"}
    code, err = cli(capsys, "run", write(tmp_path, data), "--out", str(tmp_path / "out"))
    assert code == 2 and err.count("\n") == 1, err
    assert "sites.vary.0.field: expected a field the sites may differ in" in err
    assert not (tmp_path / "out").exists()


def test_compare_and_sweep_refuse_a_scenario_with_sites(tmp_path, capsys):
    path = write(tmp_path, sites_scenario([{"field": "network.uplink.rate_mbps", "uniform": [1, 5]}]))
    code, err = cli(capsys, "compare", path, "--seeds", "1", "--out", str(tmp_path / "c"))
    assert code == 2 and err.count("\n") == 1 and "sites: expected a scenario of one site: compare" in err, err
    (tmp_path / "sweep.yaml").write_text("name: sw\nscenario: s.yaml\nseeds: [1]\ngrid:\n  duration_s: [20, 30]\n")
    code, err = cli(capsys, "sweep", str(tmp_path / "sweep.yaml"), "--out", str(tmp_path / "w"))
    assert code == 2 and err.count("\n") == 1 and "sites: expected a scenario of one site: a sweep" in err, err
    assert not (tmp_path / "c").exists() and not (tmp_path / "w").exists()
