"""benchmarks/plot.py and benchmarks/sweep.py on synthetic result JSONs: every figure is drawn
with its footer, a JSON without metadata is refused, the tables carry medians, spreads and
memory, and the sweep runs the points it says."""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[3] / "benchmarks"
META = {
    "commit": "abc1234-dirty",
    "date_utc": "2026-01-02T03:04:05Z",
    "machine": "host1",
    "cpu_model": "Test CPU",
    "cores": 2,
    "python": "3.11.7",
    "numpy": "2.0.0",
    "load_average": [0.5, 0.4, 0.3],
    "load_average_end": [1.5, 0.9, 0.5],
}
MiB = 2**20


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    if spec is None or spec.loader is None:
        raise RuntimeError(name)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def plot() -> ModuleType:
    pytest.importorskip("matplotlib")
    return _module("plot")


def _row(op: str, size: int, parties: int = 3) -> dict[str, Any]:
    times = [1e-7 * size * k for k in (1.0, 1.2, 0.9, 1.1, 1.3)]
    return {
        "op": op,
        "size": size,
        "parties": parties,
        "repeat": 5,
        "online_seconds": statistics.median(times),
        "online_seconds_all": times,
        "peak_rss_bytes_by_party": [60 * MiB + 100 * size + p * MiB for p in range(parties)],
        "idle_rss_bytes_by_party": [60 * MiB] * parties,
    }


def _write(tmp: Path) -> None:
    ops = ["lt", "mul"]
    by_size = [_row(o, s) for o in ops for s in (10**3, 10**5)]
    by_parties = [_row(o, 10**5, n) for o in ops for n in (2, 3)]
    sizes = {"metadata": META, "ops": ops, "results": by_size}
    parties = {"metadata": META, "ops": ops, "results": by_parties}
    cmp_rows = []
    for op in ("lt", "mul", "sum"):
        ours = _row(op, 10**4)
        ours["offline_seconds_all"] = [0.5] * 5
        e2e = [a + 0.5 for a in ours["online_seconds_all"]]
        mpyc = {
            "online_seconds_all": [2.0, 2.1, 1.9, 2.2, 2.0],
            "online_seconds": 2.0,
            "peak_rss_bytes_by_party": [58 * MiB, 57 * MiB, 58 * MiB],
            "idle_rss_bytes_by_party": [40 * MiB] * 3,
        }
        cmp_rows.append({
            "op": op, "size": 10**4, "ours": ours, "ours_end_to_end_seconds_all": e2e,
            "ours_end_to_end_seconds": statistics.median(e2e), "mpyc": mpyc,
            "ratio_mpyc_over_ours_end_to_end": 2.0 / statistics.median(e2e),
        })  # fmt: skip
    cmp = {"metadata": META, "results": cmp_rows, "repeat": 5, "preprocessing": "ot"}
    for name, doc in (
        ("sweep_sizes.json", sizes),
        ("sweep_parties.json", parties),
        ("mpyc_compare_ot.json", cmp),
    ):
        (tmp / name).write_text(json.dumps(doc))


def test_every_figure_is_drawn(plot: ModuleType, tmp_path: Path) -> None:
    _write(tmp_path)
    written = plot.draw(tmp_path, tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == ["memory_per_element.png", "mpyc_compare.png", "vs_parties.png", "vs_size.png"]
    for p in written:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000


def test_footer_names_commit_date_machine_and_load(plot: ModuleType) -> None:
    text = plot.footer_text(META)
    for part in ("abc1234-dirty", "2026-01-02T03:04:05Z", "host1", "Test CPU", "2 cores"):
        assert part in text
    assert "Python 3.11.7" in text and "numpy 2.0.0" in text and "0.5 before, 1.5 after" in text


def test_json_without_metadata_is_refused(plot: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "sweep_sizes.json").write_text(json.dumps({"ops": [], "results": []}))
    with pytest.raises(SystemExit, match="no metadata"):
        plot.draw(tmp_path, tmp_path)


def test_spread_and_memory_per_element(plot: ModuleType) -> None:
    assert plot.spread([3.0, 1.0, 2.0]) == (2.0, 1.0, 1.0)
    row = _row("lt", 1000)
    assert plot.per_element(row) == [100.0, 100.0 + MiB / 1000, 100.0 + 2 * MiB / 1000]


def test_tables(plot: ModuleType, tmp_path: Path) -> None:
    _write(tmp_path)
    cmp = plot.mpyc_table(json.loads((tmp_path / "mpyc_compare_ot.json").read_text()))
    lines = cmp.splitlines()
    assert "MPyC (MiB)" in lines[0] and len(lines) == 5
    assert lines[2].startswith("| lt | 10^4 |") and lines[2].endswith("| 61–63 | 57–58 |")
    sweep = plot.sweep_table(json.loads((tmp_path / "sweep_sizes.json").read_text()))
    assert "| lt | 3 | 100,000 | 0.011 (0.009–0.013) |" in sweep


def test_main_without_results_says_so(plot: ModuleType, tmp_path: Path) -> None:
    assert plot.main(["--results", str(tmp_path)]) == 1


def test_sweep_points() -> None:
    sweep = _module("sweep")
    ns = sweep.main.__globals__["argparse"].Namespace
    sizes = ns(kind="sizes", ops="lt,mul", sizes="10,100", parties=3, point=["mul:1000"])
    assert sweep.points(sizes) == [
        ("lt", 10, 3), ("lt", 100, 3), ("mul", 10, 3), ("mul", 100, 3), ("mul", 1000, 3),
    ]  # fmt: skip
    parties = ns(kind="parties", ops="eq", parties_list="2,5", size=7, parties=3, point=None)
    assert sweep.points(parties) == [("eq", 7, 2), ("eq", 7, 5)]


def test_sweep_records_failures_and_goes_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import subprocess

    sweep = _module("sweep")

    def fake(op: str, size: int, parties: int, repeat: int, timeout: float) -> dict[str, Any]:
        if size == 100:
            raise subprocess.CalledProcessError(1, ["mpc"], stderr="mpc bench: error: boom\n")
        return {**_row(op, size, parties), "load_average_after": [0.1]}

    monkeypatch.setattr(sweep, "bench_point", fake)
    out = tmp_path / "s.json"
    code = sweep.main(["sizes", "--ops", "mul", "--sizes", "10,100", "--out", str(out), "--quiet"])
    doc = json.loads(out.read_text())
    assert code == 1 and len(doc["results"]) == 1
    assert doc["failed"] == [
        {"op": "mul", "size": 100, "parties": 3, "error": "mpc bench: error: boom"}
    ]
    assert doc["metadata"]["commit"] and "load_average_end" in doc["metadata"]
