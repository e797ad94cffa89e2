"""Bad input fails at load time with one line naming the file, the field or line, and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import REPO, queue_scenario

from simsplit.core.errors import InputError
from simsplit.engine.setup import build_setup
from simsplit.scenario import apply_overrides, load_scenario, validate_scenario
from simsplit.scenario.payloads import load_payloads
from simsplit.scenario.profiles import load_profile

GOOD_PROFILE = "split,name,head_ms_phone,tail_ms_gpu,output_bytes\n0,input,0,5,100\n1,out,3,0,4\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text,match", [
    ("", r"profile\.csv: expected a header line and at least one row, got an empty file"),
    ("split,name,head_ms_phone,tail_ms_gpu\n0,a,0,1\n", r"line 1: expected a column 'output_bytes'"),
    ("split,name,head_ms_phone,output_bytes\n0,a,0,1\n1,b,1,1\n", r"header: expected at least one head_ms_"),
    ("split,name,head_ms_phone,tail_ms_gpu,output_bytes,colour\n0,a,0,1,1\n", r"line 1: unknown column 'colour'"),
    ("# provenance\nsplit,name,head_ms_phone,tail_ms_gpu,output_bytes\n0,a,0,5,1\n2,b,1,0,1\n",
     r"line 4, column split: expected split points 0, 1, 2, \.\.\. in order, so 1, got 2"),
    ("split,name,head_ms_phone,tail_ms_gpu,output_bytes\n0,a,0,5,1\n1,b,-1,0,1\n",
     r"line 3, column head_ms_phone: expected a number >= 0, got '-1'"),
    ("split,name,head_ms_phone,tail_ms_gpu,output_bytes\n0,a,0,5,1\n1,b,fast,0,1\n",
     r"line 3, column head_ms_phone: expected a number >= 0, got 'fast'"),
    ("split,name,head_ms_phone,tail_ms_gpu,output_bytes\n0,a,4,5,1\n1,b,3,0,1\n",
     r"line 3, column head_ms_phone: expected non-decreasing \(cumulative head time\)"),
    ("split,name,head_ms_phone,tail_ms_gpu,output_bytes\n0,a,0,5,1\n1,b,3,0,1.5\n",
     r"line 3, column output_bytes: expected an integer >= 0, got '1.5'"),
    ("split,name,head_ms_phone,tail_ms_gpu,output_bytes\n0,a,0,5,1\n1,b,3,0\n", r"line 3: expected 5 cells, got 4"),
    ("split,name,head_ms_phone,head_mj_tablet,tail_ms_gpu,output_bytes\n0,a,0,0,5,1\n1,b,3,6,0,1\n",
     r"header, column head_mj_tablet: expected a head_ms_tablet column beside it"),
    ("split,name,head_ms_phone,head_mj_phone,tail_ms_gpu,output_bytes\n0,a,0,0,5,1\n1,b,3,6,0,1\n2,c,4,5,0,1\n",
     r"line 4, column head_mj_phone: expected non-decreasing \(cumulative head energy\)"),
    ("split,name,head_ms_phone,head_mj_phone,tail_ms_gpu,output_bytes\n0,a,0,2,5,1\n1,b,3,6,0,1\n",
     r"line 2, column head_mj_phone: expected 0 where head_ms_phone is 0"),
    ("split,name,head_ms_phone,head_mj_phone,tail_ms_gpu,output_bytes\n0,a,0,0,5,1\n1,b,3,nan,0,1\n",
     r"line 3, column head_mj_phone: expected a number >= 0, got 'nan'"),
])
def test_bad_profile(tmp_path, text, match):
    with pytest.raises(InputError, match=match) as info:
        load_profile(write(tmp_path, "profile.csv", text))
    assert "\n" not in str(info.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match=r"nope\.csv: file not found"):
        load_profile(tmp_path / "nope.csv")


@pytest.mark.parametrize("text,match", [
    ("split,bottleneck,bytes,accuracy\n0,raw,10,1.2\n",
     r"line 2, column accuracy: expected a number >= 0 and <= 1, got '1.2'"),
    ("split,bottleneck,bytes,accuracy\n0,raw,10,0.7\n0,raw,5,0.7\n",
     r"line 3: expected one row per \(split, bottleneck\), got \(0, raw\) again \(first on line 2\)"),
    ("split,bottleneck,bytes,accuracy\n0,,10,0.7\n", r"line 2, column bottleneck: expected a non-empty name"),
    ("split,bottleneck,bytes,accuracy,encode_ms\n0,raw,10,0.7,-2\n",
     r"line 2, column encode_ms: expected a number >= 0"),
])
def test_bad_payloads(tmp_path, text, match):
    with pytest.raises(InputError, match=match):
        load_payloads(write(tmp_path, "payloads.csv", text))


def scenario_with(tmp_path, **changes) -> dict:
    data = queue_scenario(tmp_path, rate_hz=10, service_ms=5)
    return apply_overrides(data, [f"{k.replace('__', '.')}={v}" for k, v in changes.items()])


@pytest.mark.parametrize("override,match", [
    ("network.uplink.rate_mbps=-3", r"^<scenario>: network\.uplink\.rate_mbps: expected a number > 0\.0, got -3$"),
    ("duration_s=ten", r"^<scenario>: duration_s: expected a number, got 'ten'$"),
    ("warmup_s=5000", r"^<scenario>: warmup_s: expected a number < duration_s \(1000\), got 5000$"),
    ("server.worker=2",
     r"^<scenario>: server\.worker: unknown field; expected one of \['background', 'batching', 'discipline', "
     r"'drop_expired', 'extra_rtt_ms', 'name', 'power', 'queue_capacity', 'server_class', 'service_variability', "
     r"'workers'\]$"),
    ("devices.0.arrivals.kind=bursty",
     r"^<scenario>: devices\.0\.arrivals\.kind: expected kind 'periodic', 'poisson', 'closed_loop', got 'bursty'$"),
    ("devices.0.arrivals.rate=3",
     r"^<scenario>: devices\.0\.arrivals\.rate: unknown field; expected one of \['kind', 'rate_hz'\]$"),
    ("strategy.kind=fixed", r"^<scenario>: strategy\.split: expected a value: this field is required$"),
    ("server.service_variability.kind=gamma",
     r"^<scenario>: server\.service_variability\.cv: a gamma variability needs cv > 0$"),
    ("server.workers=0", r"^<scenario>: server\.workers: expected a number > 0, got 0$"),
    ("network.uplink={kind: steps, times_s: [0, 2, 1], rates_mbps: [1, 2, 3]}",
     r"^<scenario>: network\.uplink\.times_s: times_s must strictly increase$"),
    ("name=my run", r"^<scenario>: name: expected a name of letters, digits"),
])
def test_bad_scenario_field(tmp_path, override, match):
    data = apply_overrides(queue_scenario(tmp_path, rate_hz=10, service_ms=5), [override])
    with pytest.raises(InputError, match=match):
        validate_scenario(data)


def test_periodic_jitter_must_stay_below_the_period(tmp_path):
    data = apply_overrides(queue_scenario(tmp_path, rate_hz=10, service_ms=5),
                           ["devices.0.arrivals={kind: periodic, rate_hz: 10, jitter_s: 0.2}"])
    with pytest.raises(InputError, match=r"devices\.0\.arrivals\.jitter_s: expected a number < the period"):
        validate_scenario(data)


@pytest.mark.parametrize("override,match", [
    ("devices.0.device_class=tpu",
     r"devices\.0\.device_class: expected one of \['phone'\] \(head_ms_\* columns of .*profile\.csv\), got 'tpu'"),
    ("server.server_class=cpu", r"server\.server_class: expected one of \['gpu'\]"),
    ("strategy={kind: fixed, split: 7, bottleneck: raw}",
     r"strategy\.split: expected a split point 0\.\.1 of .*, got 7"),
    ("strategy={kind: fixed, split: 0, bottleneck: jpeg}",
     r"strategy\.bottleneck: expected one of \['raw'\] \(rows at split 0 of .*\), got 'jpeg'"),
    ("devices.0.strategy={kind: full_offload, bottleneck: x}",
     r"devices\.0\.strategy\.bottleneck: expected one of \['raw'\]"),
])
def test_cross_file_references(tmp_path, override, match):
    data = apply_overrides(queue_scenario(tmp_path, rate_hz=10, service_ms=5), [override])
    with pytest.raises(InputError, match=match):
        build_setup(validate_scenario(data))


def test_payload_split_beyond_profile(tmp_path):
    data = queue_scenario(tmp_path, rate_hz=10, service_ms=5)
    Path(data["model"]["payloads"]).write_text("split,bottleneck,bytes,accuracy\n0,raw,0,1\n5,x,3,1\n")
    with pytest.raises(InputError, match=r"payloads\.csv: line 3, column split: expected a split point 0\.\.1"):
        build_setup(validate_scenario(data))


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "bad.yaml", "name: x\nseed: [1, 2\nduration_s: 3\n")
    with pytest.raises(InputError, match=r"bad\.yaml: line \d+, column \d+: expected valid YAML"):
        load_scenario(path)


def test_overrides_do_not_leak_through_yaml_aliases(tmp_path):
    data = yaml.safe_load("a: &x {v: 1}\nb: *x\nc: {<<: *x}\n")
    changed = apply_overrides(data, ["a.v=2"])
    assert changed == {"a": {"v": 2}, "b": {"v": 1}, "c": {"v": 1}}


def test_override_list_index_out_of_range(tmp_path):
    with pytest.raises(InputError, match=r"--set: devices\.3: expected a list index below 1, got '3'"):
        apply_overrides(queue_scenario(tmp_path, rate_hz=10, service_ms=5), ["devices.3.count=2"])


def test_relative_paths_resolve_against_the_scenario_file():
    scenario = load_scenario(REPO / "scenarios" / "default.yaml")
    assert Path(scenario.model.profile).is_file() and Path(scenario.model.profile).is_absolute()
