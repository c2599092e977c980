"""``mpc run``, ``mpc party`` and ``mpc recipient`` as a user runs them, over real processes.

* the README's ``examples/richest.py`` on three parties: plain integer results, each output only
  to its recipients;
* a script with an external recipient (``mpc recipient --program``) and a party without input;
* ``--write-spec`` for a recipient started with ``--job``;
* a party whose copy of a file program differs is refused, and says so;
* an input out of its declared bounds, and a job whose declared bounds could overflow, refused
  with one line before anything runs;
* privacy warnings before the job runs, and plain numbers printed.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from tests.helpers.cluster import write_cluster
from tests.helpers.procs import REPO, ProcGroup, proc_group

LIMIT = 40.0


def _wait(g: ProcGroup, names: list[str], within: float = LIMIT) -> dict[str, int]:
    codes = g.wait_all(names, time.monotonic() + within)
    assert all(c is not None for c in codes.values()), g.describe()
    return {n: int(c) for n, c in codes.items() if c is not None}


def _results(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.startswith("result "):
            name, _, value = line[len("result ") :].partition(" = ")
            out[name] = value
    return out


def test_richest_example_prints_plain_integers_to_the_named_recipients(tmp_path: Path) -> None:
    cfg, _ = write_cluster(tmp_path, 3, connect=15.0, round_timeout=10.0, preprocessing="ot")
    with proc_group(tmp_path / "logs") as g:
        g.start("coord", "coordinator", "--config", str(cfg))
        for pid, v in ((1, 120), (2, 250), (3, 180)):
            g.start(
                f"p{pid}",
                "run",
                "examples/richest.py:main",
                "--config",
                str(cfg),
                "--id",
                str(pid),
                "--input",
                str(v),
            )
        codes = _wait(g, ["coord", "p1", "p2", "p3"])
        assert set(codes.values()) == {0}, g.describe()
        assert _results(g.procs["p1"].stdout) == {"largest": "250", "one_beats_two": "0"}
        assert _results(g.procs["p2"].stdout) == {"largest": "250", "one_beats_two": "0"}
        assert _results(g.procs["p3"].stdout) == {"largest": "250"}  # not named for the other
        assert "1 online round" not in g.procs["p1"].stderr  # plurals: "N online rounds"


def test_external_recipient_and_a_party_without_input(tmp_path: Path) -> None:
    cfg, _ = write_cluster(tmp_path, 3, connect=15.0, round_timeout=10.0, preprocessing="ot")
    script = "examples/analyst_mean.py:main"
    with proc_group(tmp_path / "logs") as g:
        g.start("coord", "coordinator", "--config", str(cfg))
        g.start(
            "analyst", "recipient", "--program", script, "--config", str(cfg), "--name", "analyst"
        )
        g.start(
            "p1", "run", script, "--config", str(cfg), "--id", "1", "--input", "[1.5, 2.25, -3.0]"
        )
        g.start(
            "p2", "run", script, "--config", str(cfg), "--id", "2", "--input", "[0.5, 1.75, 4.0]"
        )
        g.start("p3", "run", script, "--config", str(cfg), "--id", "3")
        codes = _wait(g, ["coord", "analyst", "p1", "p2", "p3"])
        assert set(codes.values()) == {0}, g.describe()
        assert _results(g.procs["analyst"].stdout) == {"mean": "[1.0, 2.0, 0.5]"}
        for pid in (1, 2, 3):
            assert "result" not in g.procs[f"p{pid}"].stdout
            assert "no output was revealed" in g.procs[f"p{pid}"].stderr


def test_write_spec_serves_a_recipient_started_with_job(tmp_path: Path) -> None:
    cfg, _ = write_cluster(tmp_path, 3, connect=15.0, round_timeout=10.0, preprocessing="ot")
    script = "examples/analyst_mean.py:main"
    spec = tmp_path / "spec.json"
    with proc_group(tmp_path / "logs") as g:
        g.start("coord", "coordinator", "--config", str(cfg))
        g.start("p3", "run", script, "--config", str(cfg), "--id", "3", "--write-spec", str(spec))
        for _ in range(200):
            if spec.exists():
                break
            time.sleep(0.05)
        g.start(
            "analyst", "recipient", "--job", str(spec), "--config", str(cfg), "--name", "analyst"
        )
        g.start("p1", "run", script, "--config", str(cfg), "--id", "1", "--input", "[1, 1, 1]")
        g.start("p2", "run", script, "--config", str(cfg), "--id", "2", "--input", "[3, 3, 3]")
        codes = _wait(g, ["coord", "analyst", "p1", "p2", "p3"])
        assert set(codes.values()) == {0}, g.describe()
        assert _results(g.procs["analyst"].stdout) == {"mean": "[2.0, 2.0, 2.0]"}
        assert json.loads(spec.read_text())["program_sha256"]


def test_a_party_with_a_different_program_file_is_refused(tmp_path: Path) -> None:
    cfg, _ = write_cluster(tmp_path, 3, connect=15.0, round_timeout=10.0, preprocessing="ot")
    work = tmp_path / "w"
    work.mkdir()
    shutil.copy(REPO / "examples" / "richest.py", work / "richest.py")
    spec = tmp_path / "spec.json"
    with proc_group(tmp_path / "logs") as g:
        g.start(
            "writer",
            "run",
            f"{work}/richest.py:main",
            "--config",
            str(cfg),
            "--id",
            "1",
            "--input",
            "1",
            "--write-spec",
            str(spec),
        )
        for _ in range(200):
            if spec.exists():
                break
            time.sleep(0.05)
        g.kill("writer")
        g.start("coord", "coordinator", "--config", str(cfg), "--job", str(spec))
        (work / "richest.py").write_text((work / "richest.py").read_text() + "\n# changed\n")
        g.start(
            "p1", "party", "--config", str(cfg), "--id", "1", "--job", str(spec), "--input", "5"
        )
        codes = _wait(g, ["coord", "p1"], 20)
        err = g.procs["p1"].stderr
        assert codes["p1"] == 2, g.describe()
        assert "SHA-256" in err and "every party must run the same code" in err
        assert codes["coord"] != 0 and "party:1" in g.procs["coord"].stderr


def test_overflowing_declared_bounds_are_refused_before_the_job_starts(tmp_path: Path) -> None:
    cfg, _ = write_cluster(tmp_path, 3, connect=15.0, round_timeout=10.0, preprocessing="ot")
    raw = {
        "job_id": "big",
        "program": "protocols.apps:average_job",
        "inputs": [{"party": i, "name": "value", "bits": 63} for i in (1, 2, 3)],
        "outputs": [{"name": "average", "recipients": ["party:1", "party:2", "party:3"]}],
    }
    job = tmp_path / "big.json"
    job.write_text(json.dumps(raw))
    big = str(2**62 - 1)
    with proc_group(tmp_path / "logs") as g:
        g.start("coord", "coordinator", "--config", str(cfg), "--job", str(job))
        for pid in (1, 2, 3):
            g.start(
                f"p{pid}",
                "party",
                "--config",
                str(cfg),
                "--id",
                str(pid),
                "--job",
                str(job),
                "--input",
                big,
            )
        codes = _wait(g, ["coord", "p1", "p2", "p3"], 20)
        for pid in (1, 2, 3):
            err = g.procs[f"p{pid}"].stderr
            assert codes[f"p{pid}"] != 0
            assert "output 'average'" in err and "safe range" in err, err
            assert "result" not in g.procs[f"p{pid}"].stdout
        assert "started" not in g.procs["coord"].stderr or "aborted" in g.procs["coord"].stderr


def test_privacy_warning_and_plain_numbers_for_a_two_party_average(tmp_path: Path) -> None:
    cfg, _ = write_cluster(tmp_path, 2, connect=15.0, round_timeout=10.0, preprocessing="ot")
    raw = {
        "job_id": "avg2",
        "program": "protocols.apps:average_job",
        "inputs": [{"party": i, "name": "value", "min": 0, "max": 100000} for i in (1, 2)],
        "outputs": [{"name": "average", "recipients": ["party:1", "party:2"]}],
    }
    job = tmp_path / "avg.json"
    job.write_text(json.dumps(raw))
    with proc_group(tmp_path / "logs") as g:
        g.start("coord", "coordinator", "--config", str(cfg), "--job", str(job))
        for pid, v in ((1, 3000), (2, 3800)):
            g.start(
                f"p{pid}",
                "party",
                "--config",
                str(cfg),
                "--id",
                str(pid),
                "--job",
                str(job),
                "--input",
                str(v),
            )
        codes = _wait(g, ["coord", "p1", "p2"])
        assert set(codes.values()) == {0}, g.describe()
        for pid in (1, 2):
            assert _results(g.procs[f"p{pid}"].stdout) == {"average": "3400.0"}
            assert "warning: privacy: with 2 parties" in g.procs[f"p{pid}"].stderr
