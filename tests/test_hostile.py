"""A corpus of hostile inputs: every one exits 2 with one line naming the file and field (or line and
column, or option), prints no traceback, writes nothing, and takes under 5 s."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import REPO

from simsplit.cli import main

SCENARIOS = REPO / "scenarios"
DRIVE = str(REPO / "scenarios" / "drive-through-cells.yaml")
CITY = str(REPO / "scenarios" / "city.yaml")
PLUGIN_NOTICE = "simsplit: running plugin "
DEFAULT = str(SCENARIOS / "default.yaml")
DYNAMIC = str(SCENARIOS / "dynamic-under-load.yaml")
TRACE = str(SCENARIOS / "trace-driven-lte.yaml")
LTE = str(SCENARIOS / "lte-trace-tail.yaml")

HOSTILE_VALUES = [".inf", "-.inf", ".nan", "-1", "0", "1e308", "true", "'ten'", "[1, 2]", "{a: 1}", "null", "1:30"]
"""Values every numeric option is tried with (YAML text, as a --set value)."""

# (field, values that must be refused) for the default scenario
FIELDS = {
    "duration_s": HOSTILE_VALUES,
    "warmup_s": [".inf", ".nan", "-1", "1e308", "true", "'x'", "[1]"],
    "deadline_s": [".inf", ".nan", "-1", "0", "true", "'x'"],
    "seed": ["-1", "1.0", "true", ".inf", "'x'", "1.5"],
    "devices.0.count": ["0", "-1", "1.0", "true", "1e9", ".inf", "'x'", "1000000000000"],
    "devices.0.compute_power_w": [".inf", ".nan", "-1", "0", "true", "'x'"],
    "devices.0.arrivals.rate_hz": [".inf", ".nan", "-1", "0", "1e9", "true", "'x'"],
    "devices.0.arrivals.kind": ["bursty", "1", "null"],
    "network.uplink.delay_ms": [".inf", ".nan", "-1", "true", "'x'"],
    "network.uplink.rates_mbps": ["[1, 2]", "[.inf, 1, 1, 1, 1]", "[-1, 1, 1, 1, 1]", "'x'"],
    "network.uplink.times_s": ["[1, 2, 3, 4, 5]", "[0, 0, 1, 2, 3]", "[0, .nan, 1, 2, 3]"],
    "network.uplink.period_s": ["1", ".inf", "-5", "0"],
    "network.uplink.kind": ["wormhole", "7"],
    "network.downlink.rate_mbps": [".inf", ".nan", "-3", "0", "true", "1e308"],
    "network.radio.technology": ["5g", "1"],
    "network.radio.beta_mw": [".inf", "-1", ".nan", "true"],
    "server.workers": ["0", "-1", "1.5", "true", "1e9"],
    "server.queue_capacity": ["-1", "1.5", "true"],
    "server.service_variability.cv": [".inf", ".nan", "-1", "1e300", "1e-300", "true"],
    "server.service_variability.kind": ["weibull"],
    "server.extra_rtt_ms": [".inf", "-1", ".nan"],
    "server.server_class": ["'tpu'", "1"],
    "strategy.split": ["99", "-1", "1.5", "true", ".inf"],
    "strategy.bottleneck": ["'nope'", "1"],
    "strategy.kind": ["magic"],
    "model.result_bytes": [".inf", "-1", ".nan", "true"],
    "model.profile": ["'missing.csv'", "'/'", "1"],
    "model.payloads": ["'missing.csv'", "'.'"],
    "name": ["'../escape'", "''", "'a b'", "1"],
    "phases_s": ["[5]", "[5, 1]", "[0, .inf]"],
    "switch_cost.time_ms": ["-1", ".inf"],
    "unknown_field": ["1"],
}
EXTRA_SETS = [
    ("dynamic", DYNAMIC, "devices.0.probe.period_s=1e-9"),
    ("dynamic", DYNAMIC, "devices.0.probe.period_s=0"),
    ("dynamic", DYNAMIC, "devices.0.probe.period_s=.inf"),
    ("dynamic", DYNAMIC, "strategy.hysteresis=1"),
    ("dynamic", DYNAMIC, "strategy.estimator.alpha=0"),
    ("dynamic", DYNAMIC, "strategy.estimator.kind=kalman"),
    ("dynamic", DYNAMIC, "strategy.min_accuracy=1.5"),
    ("dynamic", DYNAMIC, "strategy.initial_uplink_mbps=.inf"),
    ("dynamic", DYNAMIC, "strategy.decision_period_s=-1"),
    ("dynamic", DYNAMIC, "server.background.0.service_ms=.inf"),
    ("trace", TRACE, "network.uplink.scale=1e308"),
    ("trace", TRACE, "network.uplink.scale=.inf"),
    ("trace", TRACE, "network.uplink.scale=0"),
    ("trace", TRACE, "network.uplink.offset_s=.inf"),
    ("trace", TRACE, "network.uplink.offset_s=-1"),
    ("trace", TRACE, "network.uplink.offset_s=sometimes"),
    ("trace", TRACE, "network.uplink.window_ms=10"),
    ("trace", TRACE, "network.uplink.format=pcap"),
    ("trace", TRACE, "network.uplink.file=/nonexistent/trace.csv"),
    ("trace", TRACE, "network.uplink.end=bounce"),
    ("lte", LTE, "network.radio.tail_s=[1, 2]"),
    ("lte", LTE, "network.uplink.loss.p=1"),
    ("lte", LTE, "network.uplink.loss.p=-0.1"),
    ("lte", LTE, "network.uplink.loss.mtu_bytes=0"),
    ("default", DEFAULT, 'network.uplink={"kind": "fading", "coherence_s": 1e-9}'),
    ("default", DEFAULT, 'network.uplink={"kind": "fading", "distance_m": .inf}'),
    ("default", DEFAULT, 'network.uplink={"kind": "fading", "efficiency": 2}'),
    ("default", DEFAULT, 'network.uplink={"kind": "markov", "rates_mbps": [1, 2], "mean_sojourn_s": [1e-9, 1e-9]}'),
    ("default", DEFAULT, 'network.uplink={"kind": "markov", "rates_mbps": [0, 0], "mean_sojourn_s": [1, 1]}'),
    ("default", DEFAULT, 'network.uplink={"kind": "markov", "rates_mbps": [1], "mean_sojourn_s": [1, 2]}'),
    ("default", DEFAULT, "duration_s=1e308"),
    ("default", DEFAULT, "devices.0.count=100000000"),
    ("default", DEFAULT, "devices.0.arrivals.rate_hz=1e7"),
    ("default", DEFAULT, "devices=[]"),
    ("default", DEFAULT, "devices.5.count=2"),
    ("default", DEFAULT, "devices.x.count=2"),
    ("default", DEFAULT, "nonsense"),
    ("default", DEFAULT, "=3"),
    ("default", DEFAULT, "servers=[]"),
]


def corpus() -> list[tuple[str, list[str]]]:
    cases = []
    for field, values in FIELDS.items():
        for value in values:
            cases.append((f"set {field}={value}", ["run", DEFAULT, "--set", f"{field}={value}"]))
    for label, scenario, item in EXTRA_SETS:
        cases.append((f"{label} {item}", ["run", scenario, "--set", item]))
    cases += [
        ("run --seed -1", ["run", DEFAULT, "--seed", "-1"]),
        ("run --seed 1.0", ["run", DEFAULT, "--seed", "1.0"]),
        ("run --seed x", ["run", DEFAULT, "--seed", "x"]),
        ("run --monitor 0", ["run", DEFAULT, "--monitor", "0"]),
        ("run --monitor -1", ["run", DEFAULT, "--monitor", "-1"]),
        ("run --monitor nan", ["run", DEFAULT, "--monitor", "nan"]),
        ("run --monitor inf", ["run", DEFAULT, "--monitor", "inf"]),
        ("run --monitor 1e-12", ["run", DEFAULT, "--monitor", "1e-12"]),
        ("run missing file", ["run", "no-such.yaml"]),
        ("run a folder", ["run", str(SCENARIOS)]),
        ("run a CSV as YAML", ["run", str(SCENARIOS / "profiles" / "resnet50-bottlenet.csv")]),
        ("run unknown option", ["run", DEFAULT, "--colour", "red"]),
        ("run no file", ["run"]),
        ("unknown command", ["fly", DEFAULT]),
        ("validate bad set", ["validate", DEFAULT, "--set", "duration_s=-1"]),
        ("validate huge", ["validate", DEFAULT, "--set", "duration_s=1e308"]),
        ("compare --seeds 0", ["compare", DEFAULT, "--seeds", "0"]),
        ("compare --seeds -3", ["compare", DEFAULT, "--seeds", "-3"]),
        ("compare --only nobody", ["compare", DEFAULT, "--only", "nobody"]),
        ("compare negative seed", ["compare", DEFAULT, "--set", "seed=-4"]),
        ("sweep --workers 0", ["sweep", str(SCENARIOS / "sweeps" / "bottlenet-networks.yaml"), "--workers", "0"]),
        ("sweep --limit -1", ["sweep", str(SCENARIOS / "sweeps" / "bottlenet-networks.yaml"), "--limit", "-1"]),
        ("sweep missing", ["sweep", "nope.yaml"]),
        ("plot not a result", ["plot", str(SCENARIOS)]),
        ("report not a result", ["report", str(SCENARIOS)]),
        ("traces show bad format", ["traces", "show", str(REPO / "traces" / "lte-uplink-markov.csv"), "-f", "pcap"]),
        ("traces show window 0", ["traces", "show", "{mm}", "-f", "mahimahi", "--window-ms", "0"]),
        ("traces show window -5", ["traces", "show", "{mm}", "-f", "mahimahi", "--window-ms", "-5"]),
        ("traces show window nan", ["traces", "show", "{mm}", "-f", "mahimahi", "--window-ms", "nan"]),
        ("traces show window 1e-9", ["traces", "show", "{mm}", "-f", "mahimahi", "--window-ms", "1e-9"]),
        ("traces show direction", ["traces", "show", "{gnet}", "-f", "gnettrack", "--direction", "sideways"]),
        ("traces show window on csv", ["traces", "show", str(REPO / "traces" / "lte-uplink-markov.csv"), "-f", "csv",
                                       "--window-ms", "10"]),
        ("route of zero length reversing", ["run", DRIVE, "--set", "devices.0.mobility.waypoints_m=[[0,0],[0,0]]"]),
        ("route at 1e15 m/s", ["run", DRIVE, "--set", "devices.0.mobility.speed_mps=[1e15]"]),
        ("records sample in Arabic-Indic digits", ["run", DEFAULT, "--set", "records=sample:\u0660.5"]),
        ("scheduler garbage", ["run", CITY, "--scheduler", "garbage"]),
        ("scheduler empty", ["run", CITY, "--scheduler", ""]),
        ("scheduler tcp without address", ["run", CITY, "--scheduler", "tcp://"]),
        ("scheduler inproc", ["run", CITY, "--scheduler", "inproc://x"]),
        ("scheduler nobody listening", ["run", CITY, "--scheduler", "tcp://127.0.0.1:1"]),
        ("sweep scheduler garbage", ["sweep", str(SCENARIOS / "sweeps" / "bottlenet-networks.yaml"), "--scheduler",
                                     "garbage"]),
        ("a million sites", ["run", CITY, "--set", "sites.count=1000000"]),
        ("sites that differ in strategy", ["run", CITY, "--set",
                                           'sites.vary=[{"field": "strategy.split", "choice": [1, 8]}]']),
        ("compare a sites scenario", ["compare", CITY, "--seeds", "1"]),
        ("a plugin that exits at import", ["run", "{plugged}"]),
        ("calibrate with min = max", ["calibrate", "{calibration}"]),
        ("report of a damaged folder", ["report", "{damaged}"]),
        ("plot of a folder simsplit did not write", ["plot", "{foreign}"]),
        ("traces convert to mahimahi of 833 million lines", ["traces", "convert", "{long}", "{out}", "-f", "csv",
                                                             "--to", "mahimahi"]),
        ("traces show a 1 GB sparse file", ["traces", "show", "{sparse}", "-f", "mahimahi"]),
        ("traces convert --to bad", ["traces", "convert", "{mm}", "{out}", "-f", "mahimahi", "--to", "xml"]),
        ("traces convert over a file", ["traces", "convert", "{mm}", "{mm}", "-f", "mahimahi"]),
        ("traces show missing", ["traces", "show", "nope.txt", "-f", "csv"]),
        ("profile unknown model", ["profile", "alexnet", "--out", "{out}"]),
    ]
    return cases


YAML_FILES = {
    "duplicate seed": "name: x\nseed: 1\nseed: 2\n",
    "nul byte": "name: x\x00y\nseed: 1\n",
    "duplicate nested": None,  # built from default.yaml below
    "base-60 duration": None,
    "alias bomb": 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
                  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n'
                  'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n'
                  'g: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n',
    "syntax error": "name: [x\n",
    "a list": "- 1\n- 2\n",
    "a scalar": "42\n",
    "empty": "",
    "deep nesting": "a: " + "[" * 3000 + "]" * 3000 + "\n",
    "binary": None,
    "python tag": "name: !!python/object/apply:os.system ['true']\n",
    "inf seed": "name: x\nseed: .inf\n",
}
SWEEP_FILES = {
    "empty grid": "name: s\nscenario: {base}\ngrid: {{}}\n",
    "duplicate labels": "name: s\nscenario: {base}\ngrid:\n  net:\n    - {{label: a, set: {{duration_s: 20}}}}\n"
                        "    - {{label: a, set: {{duration_s: 30}}}}\n",
    "seeds zero": "name: s\nscenario: {base}\nseeds: 0\nruns: [{{label: a, set: {{duration_s: 20}}}}]\n",
    "negative seed": "name: s\nscenario: {base}\nseeds: [1, -2]\nruns: [{{label: a, set: {{duration_s: 20}}}}]\n",
    "repeated seed": "name: s\nscenario: {base}\nseeds: [1, 1]\nruns: [{{label: a, set: {{duration_s: 20}}}}]\n",
    "bool seeds": "name: s\nscenario: {base}\nseeds: true\nruns: [{{label: a, set: {{duration_s: 20}}}}]\n",
    "empty level": "name: s\nscenario: {base}\ngrid: {{duration_s: []}}\n",
    "both grid and runs":
        "name: s\nscenario: {base}\ngrid: {{duration_s: [20]}}\nruns: [{{label: a, set: {{duration_s: 20}}}}]\n",
    "bad level value": "name: s\nscenario: {base}\ngrid: {{duration_s: [20, -5]}}\n",
    "missing scenario": "name: s\nscenario: nope.yaml\ngrid: {{duration_s: [20]}}\n",
    "duplicate key": "name: s\nname: t\nscenario: {base}\ngrid: {{duration_s: [20]}}\n",
    "report x not a factor": "name: s\nscenario: {base}\ngrid: {{duration_s: [20]}}\nreport: {{x: nope}}\n",
    "report lines a number": "name: s\nscenario: {base}\ngrid: {{duration_s: [20]}}\nreport: {{lines: 42}}\n",
    "report baseline label": "name: s\nscenario: {base}\ngrid: {{duration_s: [20]}}\n"
                             "report: {{baseline: {{duration_s: '99'}}}}\n",
    "report unknown option": "name: s\nscenario: {base}\ngrid: {{duration_s: [20]}}\nreport: {{colour: red}}\n",
}
TRACE_FILES = {
    "mahimahi unicode digit": ("mahimahi", "1\n\u0663\n"),
    "mahimahi 5000 digits": ("mahimahi", "1\n" + "7" * 5000 + "\n"),
    "mahimahi 1e20 ms": ("mahimahi", "1\n100000000000000000000\n"),
    "csv field of 200 kB": ("csv", "time_s,rate_mbps\n0," + "1" * 200_000 + "\n10,1\n"),
    "mahimahi negative": ("mahimahi", "1\n-5\n"),
    "mahimahi backwards": ("mahimahi", "5\n3\n"),
    "mahimahi float": ("mahimahi", "1.5\n"),
    "mahimahi all zero": ("mahimahi", "0\n0\n"),
    "pensieve nan": ("pensieve", "0 1\n1 nan\n"),
    "pensieve inf": ("pensieve", "0 1\n1 inf\n"),
    "pensieve huge": ("pensieve", "0 1\n1 1e400\n"),
    "pensieve one row": ("pensieve", "0 1\n"),
    "csv missing column": ("csv", "time_s\n0\n1\n"),
    "csv negative": ("csv", "time_s,rate_mbps\n0,-3\n1,1\n"),
    "csv backwards": ("csv", "time_s,rate_mbps\n0,1\n2,1\n1,1\n"),
    "csv short row": ("csv", "time_s,rate_mbps\n0,1\n1\n"),
    "csv latin-1": ("csv", b"time_s,rate_mbps\n0,\xe9\n"),
    "gnettrack bad time": ("gnettrack", "Timestamp,DL_bitrate,State\nyesterday,5,D\n"),
    "mecperf junk": ("mecperf", "hello\n"),
}
CSV_FILES = {
    "profile duplicate column":
        ("profile", "split,name,head_ms_phone,head_ms_phone,tail_ms_gpu,output_bytes\n0,a,0,0,5,1\n"),
    "profile inf": ("profile", "split,name,head_ms_phone,tail_ms_gpu,output_bytes\n0,a,0,inf,1\n1,b,1,0,1\n"),
    "profile nan": ("profile", "split,name,head_ms_phone,tail_ms_gpu,output_bytes\n0,a,0,nan,1\n1,b,1,0,1\n"),
    "profile unicode digit":
        ("profile", "split,name,head_ms_phone,tail_ms_gpu,output_bytes\n0,a,0,\u0663,1\n1,b,1,0,1\n"),
    "payloads inf bytes": ("payloads", "split,bottleneck,bytes,accuracy\n0,raw,inf,0.7\n1,none,0,0.8\n"),
    "payloads negative": ("payloads", "split,bottleneck,bytes,accuracy\n0,raw,-4,0.7\n1,none,0,0.8\n"),
    "payloads nan accuracy": ("payloads", "split,bottleneck,bytes,accuracy\n0,raw,4,nan\n1,none,0,0.8\n"),
}


def file_cases(tmp: Path) -> list[tuple[str, list[str]]]:
    default_text = Path(DEFAULT).read_text()
    texts = dict(YAML_FILES)
    texts["duplicate nested"] = default_text.replace("  workers: 2\n", "  workers: 2\n  workers: 3\n")
    texts["base-60 duration"] = default_text.replace("duration_s: 120", "duration_s: 1:30")
    cases = []
    for name, text in texts.items():
        path = tmp / "inputs" / (name.replace(" ", "-") + ".yaml")
        if name == "binary":
            path.write_bytes(b"\x00\xff\xfe\x00name: x\n")
        else:
            path.write_text(text)
        cases.append((f"yaml {name}", ["run", str(path)]))
    base = tmp / "inputs" / "base.yaml"
    base.write_text(default_text.replace("profiles/", f"{SCENARIOS}/profiles/")
                    .replace("payloads/", f"{SCENARIOS}/payloads/"))
    for name, text in SWEEP_FILES.items():
        path = tmp / "inputs" / (name.replace(" ", "-") + ".sweep.yaml")
        path.write_text(text.format(base=base))
        cases.append((f"sweep {name}", ["sweep", str(path), "--out", str(tmp / "sweep-out")]))
    for name, (fmt, text) in TRACE_FILES.items():
        path = tmp / "inputs" / (name.replace(" ", "-") + ".trace")
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        cases.append((f"trace {name}", ["traces", "show", str(path), "-f", fmt]))
        cases.append((f"trace in a scenario {name}", ["run", TRACE, "--set", f"network.uplink.file={path}",
                                                      "--set", f"network.uplink.format={fmt}"]))
    for name, (kind, text) in CSV_FILES.items():
        path = tmp / "inputs" / (name.replace(" ", "-") + ".csv")
        path.write_text(text)
        cases.append((f"csv {name}", ["run", DEFAULT, "--set", f"model.{kind}={path}"]))
    return cases


def _snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


ALL_STATIC = corpus()


def test_the_corpus_is_large():
    assert len(ALL_STATIC) + len(YAML_FILES) + len(SWEEP_FILES) + 2 * len(TRACE_FILES) + len(CSV_FILES) >= 150


def _made_inputs(inputs: Path) -> dict[str, str]:
    """Files a few cases read: a scenario whose plugin exits at import, a calibration with min = max, a
    damaged result folder simsplit wrote, and one it did not."""
    default = Path(DEFAULT).read_text().replace("profiles/", f"{SCENARIOS}/profiles/") \
        .replace("payloads/", f"{SCENARIOS}/payloads/")
    (inputs / "exit_plugin.py").write_text("import sys\nsys.exit(0)\n")
    (inputs / "plugged.yaml").write_text(default + "plugins: [exit_plugin.py]\n")
    (inputs / "calibration.yaml").write_text(
        f"scenario: {SCENARIOS / 'bottlenet-resnet50.yaml'}\n"
        f"measurements: {SCENARIOS / 'calibration' / 'bottlenet-3g-measured.csv'}\nduration_s: 2\n"
        "parameters:\n  - {kind: tail_time, server_class: gtx1080ti, structure: scale, min: 5, max: 5}\n")
    for name, marker in (("damaged", '{"written_by": "simsplit", "kind": "run", "version": "x"}'), ("foreign", None)):
        (inputs / name).mkdir(exist_ok=True)
        (inputs / name / "summary.json").write_text('{"scenario": ')
        if marker is not None:
            (inputs / name / ".simsplit").write_text(marker)
    return {"{plugged}": str(inputs / "plugged.yaml"), "{calibration}": str(inputs / "calibration.yaml"),
            "{damaged}": str(inputs / "damaged"), "{foreign}": str(inputs / "foreign")}


def _run_case(tmp_path, monkeypatch, capsys, argv):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (tmp_path / "inputs").mkdir(exist_ok=True)
    mm = tmp_path / "inputs" / "t.mm"
    mm.write_text("1\n2\n5\n9\n")
    gnet = tmp_path / "inputs" / "g.csv"
    gnet.write_text("Timestamp,DL_bitrate,UL_bitrate,State\n2020.01.01_00.00.00,5,1,D\n2020.01.01_00.00.01,6,1,D\n")
    long = tmp_path / "inputs" / "long.csv"
    long.write_text("time_s,rate_mbps\n0,10\n1000000,10\n")
    sparse = tmp_path / "inputs" / "sparse.up"
    with open(sparse, "wb") as handle:
        handle.truncate(2**30)  # a sparse file: 1 GB long, nothing on disk
    made = _made_inputs(tmp_path / "inputs")
    argv = [a.replace("{mm}", str(mm)).replace("{gnet}", str(gnet)).replace("{out}", str(work / "converted"))
            .replace("{long}", str(long)).replace("{sparse}", str(sparse)) for a in argv]
    argv = [made.get(a, a) for a in argv]
    monkeypatch.chdir(work)
    before = _snapshot(tmp_path)
    started = time.monotonic()
    code = main(argv)
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    # a plugin's notice may come first (by design: its code is about to run); the refusal is one line
    err = "\n".join(line for line in captured.err.strip().splitlines() if not line.startswith(PLUGIN_NOTICE))
    assert code == 2, (argv, code, captured.out[-500:], err[-2000:])
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert len(err) < 1500, f"a line of {len(err):,} characters"
    assert "Traceback" not in captured.err + captured.out
    assert _snapshot(tmp_path) == before, "something was written"
    assert elapsed < 5.0, elapsed
    return err


@pytest.mark.parametrize("label,argv", ALL_STATIC, ids=[c[0] for c in ALL_STATIC])
def test_hostile_option(tmp_path, monkeypatch, capsys, label, argv):
    _run_case(tmp_path, monkeypatch, capsys, argv)


VALIDATE = [(label, ["validate", *argv[1:]]) for label, argv in ALL_STATIC
            if argv[0] == "run" and "--seed" not in argv and "--monitor" not in argv and "--colour" not in argv]


@pytest.mark.parametrize("label,argv", VALIDATE, ids=[c[0] for c in VALIDATE])
def test_validate_refuses_what_run_refuses(tmp_path, monkeypatch, capsys, label, argv):
    """``simsplit validate`` runs every check ``simsplit run`` relies on."""
    _run_case(tmp_path, monkeypatch, capsys, argv)


FILE_LABELS = ([f"yaml {n}" for n in YAML_FILES] + [f"sweep {n}" for n in SWEEP_FILES]
               + [x for n in TRACE_FILES for x in (f"trace {n}", f"trace in a scenario {n}")]
               + [f"csv {n}" for n in CSV_FILES])


@pytest.mark.parametrize("label", FILE_LABELS)
def test_hostile_file(tmp_path, monkeypatch, capsys, label):
    (tmp_path / "inputs").mkdir()
    cases = dict(file_cases(tmp_path))
    err = _run_case(tmp_path, monkeypatch, capsys, cases[label])
    if label.startswith(("yaml", "trace", "csv")):
        assert str(tmp_path / "inputs") in err  # the line names the file


PROFILE_CASES = [("profile --batch 0", ["profile", "resnet18", "--out", "{out}", "--batch", "0"]),
                 ("profile --resolution -1", ["profile", "resnet18", "--out", "{out}", "--resolution", "-1"]),
                 ("profile --threads 0", ["profile", "resnet18", "--out", "{out}", "--threads", "0"]),
                 ("profile --repeats 0", ["profile", "resnet18", "--out", "{out}", "--repeats", "0"]),
                 ("profile over a file", ["profile", "resnet18", "--out", "{mm}"])]


@pytest.mark.parametrize("label,argv", PROFILE_CASES, ids=[c[0] for c in PROFILE_CASES])
def test_hostile_profile_option(tmp_path, monkeypatch, capsys, label, argv):
    _run_case(tmp_path, monkeypatch, capsys, argv)


MUTATION_VALUES = [".inf", "-.inf", ".nan", "-1", "0", "1e308", "1e-300", "true", "'x'", "[]", "{}", "null", "1:30",
                   "1.5", "-0.0", "1e16", "[1, -1]", "'../../etc/passwd'", "2147483648", "1e-9"]


def _paths(node, prefix=""):
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and not key.startswith("x-"):
                path = f"{prefix}.{key}" if prefix else key
                yield path
                yield from _paths(value, path)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield f"{prefix}.{index}"
            yield from _paths(value, f"{prefix}.{index}")


def test_random_mutations_of_shipped_scenarios(tmp_path, monkeypatch, capsys):
    """150 seeded random mutations (one or two fields of a shipped scenario set to a hostile value): each
    either runs (exit 0) or stops with one line (exit 2); never a traceback, never more than 20 s."""
    import random

    from simsplit.scenario import read_yaml
    rng = random.Random(20261202)
    files = sorted(SCENARIOS.glob("*.yaml"))
    monkeypatch.chdir(tmp_path)
    for _ in range(150):
        scenario = rng.choice(files)
        fields = list(_paths(read_yaml(scenario)))
        sets = [f"{rng.choice(fields)}={rng.choice(MUTATION_VALUES)}" for _ in range(rng.randint(1, 2))]
        argv = ["run", str(scenario), "--out", str(tmp_path / "out"), "--set", "duration_s=20", "--set", "warmup_s=1"]
        for item in sets:
            argv += ["--set", item]
        started = time.monotonic()
        code = main(argv)
        captured = capsys.readouterr()
        err = captured.err.strip()
        assert time.monotonic() - started < 20, (scenario.name, sets)
        assert code == 0 or (code == 2 and len(err.splitlines()) == 1 and err.startswith("error: ")), \
            (scenario.name, sets, code, err[-500:])


def test_random_mutations_of_trace_and_table_files(tmp_path):
    """1,500 seeded random edits of the sample traces, the profile and the payload table (junk characters,
    lines dropped, swapped, repeated or emptied): each reads, or raises a one-line InputError; a trace that
    reads replays consistently (a finish never before its start, and the bits up to it cover the payload)."""
    import random

    from simsplit.core.errors import InputError
    from simsplit.model.channel.replay import trace_channel
    from simsplit.model.channel.traces import read_trace
    from simsplit.scenario.payloads import load_payloads
    from simsplit.scenario.profiles import load_profile
    samples = REPO / "tests" / "data" / "traces"
    traces = {"sample.mahimahi": "mahimahi", "sample.pensieve": "pensieve", "sample.csv": "csv",
              "sample-gnettrack.csv": "gnettrack", "sample.mecperf": "mecperf"}
    tables = {SCENARIOS / "profiles" / "resnet50-bottlenet.csv": load_profile,
              SCENARIOS / "payloads" / "resnet50-bottlenet.csv": load_payloads}
    junk = ["-", "1e400", "nan", "inf", "\u0663", ",", " ", "\t", "0", "-0", "99999999999999999999", "\x00", "é",
            "1e-320", ".", "#", "\ufeff"]
    rng = random.Random(7)
    path = tmp_path / "mutated"
    for _ in range(1500):
        if rng.random() < 0.7:
            name, fmt = rng.choice(sorted(traces.items()))
            lines = (samples / name).read_text().splitlines()
            reader = lambda p, fmt=fmt: read_trace(p, fmt)  # noqa: E731
        else:
            table, reader = rng.choice(sorted(tables.items()))
            lines, fmt = table.read_text().splitlines(), None
        for _ in range(rng.randint(1, 3)):
            if not lines:
                break
            i, op = rng.randrange(len(lines)), rng.random()
            if op < 0.3:
                cut = rng.randrange(len(lines[i]) + 1)
                lines[i] = lines[i][:cut] + rng.choice(junk) + lines[i][cut:]
            elif op < 0.5:
                del lines[i]
            elif op < 0.7:
                j = rng.randrange(len(lines))
                lines[i], lines[j] = lines[j], lines[i]
            elif op < 0.85:
                lines.insert(i, lines[i])
            else:
                lines[i] = ""
        path.write_text("\n".join(lines) + "\n")
        try:
            read = reader(path)
        except InputError as exc:
            assert "\n" not in str(exc)
            continue
        if fmt is not None:
            channel = trace_channel(read)
            for start in (0.0, 0.5, 3.3):
                end = channel.finish_time(start, 36_000)
                assert end >= start
                assert end == float("inf") or channel.bits_between(start, end) >= 36_000 * (1 - 1e-9)
