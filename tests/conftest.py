"""Shared builders: tiny model files and scenarios that isolate one part of the pipeline."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
needs_shared = pytest.mark.skipif(not (SHARED / "traces-real").is_dir(),
                                  reason="the public traces in ../shared/traces-real are not beside this checkout")


def assert_validate_refuses(folder: Path, scenario: dict, where: str) -> None:
    """``simsplit validate`` on ``scenario`` (written to ``folder``) exits 2 with one line naming ``where``."""
    import yaml
    from typer.testing import CliRunner

    from simsplit.cli import app
    file = folder / "refused.yaml"
    file.write_text(yaml.safe_dump(scenario))
    result = CliRunner().invoke(app, ["validate", str(file)])
    assert result.exit_code == 2, result.output
    assert where in result.output and len(result.output.strip().splitlines()) == 1, result.output


def write_model(folder: Path, *, head_ms: float = 0.0, tail_ms: float = 10.0, split_bytes: float = 0.0,
                encode_ms: float = 0.0, decode_ms: float = 0.0, accuracy: float = 0.75) -> tuple[str, str]:
    """A two-point model: split 0 sends ``split_bytes`` and leaves ``tail_ms`` to the server; split 1 is local."""
    profile = folder / "profile.csv"
    profile.write_text("split,name,head_ms_phone,tail_ms_gpu,output_bytes\n"
                       f"0,input,0,{tail_ms},1000\n1,output,{head_ms},0,4\n")
    payloads = folder / "payloads.csv"
    payloads.write_text("split,bottleneck,bytes,accuracy,encode_ms,decode_ms\n"
                        f"0,raw,{split_bytes},{accuracy},{encode_ms},{decode_ms}\n1,none,0,0.8,0,0\n")
    return str(profile), str(payloads)


def trained_scenario(folder: Path, strategy: dict, **fields) -> dict:
    """A Raspberry Pi camera (Poisson, 5 Hz) on a 1 Mbps Wi-Fi uplink to a T4, running the profile and
    payload table a training wrote into ``folder`` with ``strategy``."""
    return {"name": "trained", "duration_s": 20,
            "model": {"profile": str(folder / "profile.csv"), "payloads": str(folder / "payloads.csv")},
            "devices": [{"name": "d", "device_class": "rpi4", "compute_power_w": 6,
                         "arrivals": {"kind": "poisson", "rate_hz": 5}}],
            "network": {"uplink": {"kind": "constant", "rate_mbps": 1},
                        "downlink": {"kind": "constant", "rate_mbps": 5}, "radio": {"technology": "wifi"}},
            "server": {"server_class": "edge-t4"}, "strategy": strategy, **fields}


def queue_scenario(folder: Path, *, rate_hz: float, service_ms: float, workers: int = 1,
                   variability: dict | None = None, duration_s: float = 1000.0, warmup_s: float = 50.0,
                   queue_capacity: int | None = None, seed: int = 1) -> dict:
    """The server alone: Poisson arrivals straight into the server (no head time, zero-byte payload,
    zero-byte result), mean service ``service_ms``."""
    profile, payloads = write_model(folder, tail_ms=service_ms)
    link = {"kind": "constant", "rate_mbps": 100.0}
    return {
        "name": "queue", "seed": seed, "duration_s": duration_s, "warmup_s": warmup_s,
        "model": {"profile": profile, "payloads": payloads, "result_bytes": 0},
        "devices": [{"name": "d", "device_class": "phone", "compute_power_w": 1.0,
                     "arrivals": {"kind": "poisson", "rate_hz": rate_hz}}],
        "network": {"uplink": link, "downlink": link, "radio": {"technology": "lte"}},
        "server": {"server_class": "gpu", "workers": workers, "queue_capacity": queue_capacity,
                   "service_variability": variability or {"kind": "exponential"}},
        "strategy": {"kind": "full_offload"},
    }


def validation_page():
    """``benchmarks/validate.py`` (the validation page's checks and references) as a module, loaded once."""
    import importlib.util
    import sys
    name = "simsplit_validate_page"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / "validate.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules[name]


def replication_seeds(count: int, root: int = 20261123) -> list[int]:
    """Independent run seeds spawned from one root."""
    return [int(s) for s in np.random.SeedSequence(root).generate_state(count)]


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return tmp_path


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False,
                     help="also run the slow tests (statistical replications, long documented commands); CI does")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow (CI does)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _close_figures():
    """Figures a test opened and did not close are closed after it (they pile up across a whole run)."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
