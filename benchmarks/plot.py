"""Figures of the benchmark results, each saying what it measured, on what and when.

    pip install -e '.[bench]'                     # matplotlib
    python benchmarks/sweep.py sizes              # or keep the JSONs already there
    python benchmarks/sweep.py parties
    python benchmarks/mpyc_compare.py --sizes 10000 --ops lt,mul,sum
    python benchmarks/plot.py                     # redraw every figure from the JSONs
    python benchmarks/plot.py --markdown          # and print the README tables

Reads ``benchmarks/results/`` (``--results``): ``sweep_sizes.json`` and ``sweep_parties.json``
(:mod:`sweep`) and ``mpyc_compare_ot.json`` (:mod:`mpyc_compare`), and writes PNGs there:

* ``vs_size.png``: online seconds vs batch size per op, log-log (dealer material prefetched);
* ``vs_parties.png``: online seconds vs number of parties per op;
* ``memory_per_element.png``: (peak RSS - idle RSS) / size per op, bytes per element;
* ``mpyc_compare.png``: ours online, ours end to end with OT, MPyC; and peak RSS per party.

Every time is a median over the repetitions with an error bar from the smallest to the largest
repetition (min-max), and the figure says so; memory has one value per party, so its marker is
the median party and its bar spans the parties.  Every figure carries a footer with the commit
(``-dirty``: uncommitted changes), the UTC date, the machine, CPU and cores, Python and numpy,
and the 1-minute load average before and after the run, from the JSON's ``metadata``.  A JSON
without ``metadata`` is refused: it cannot say what it measured.

May import: the standard library and matplotlib (lazily).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SPREAD = "marker: median of {r} repetitions; error bar: min to max over the repetitions"
MEM_SPREAD = "marker: the median party; error bar: min to max over the {n} parties"


def load(path: Path) -> dict[str, Any] | None:
    """A result JSON with metadata, or None if the file does not exist."""
    if not path.exists():
        return None
    doc: dict[str, Any] = json.loads(path.read_text())
    if not isinstance(doc.get("metadata"), dict) or "commit" not in doc["metadata"]:
        raise SystemExit(f"{path}: no metadata (commit, date, machine); rerun the benchmark")
    return doc


def spread(values: list[float]) -> tuple[float, float, float]:
    """(median, median - min, max - median): a marker and its asymmetric error bar."""
    med = statistics.median(values)
    return med, med - min(values), max(values) - med


def footer_text(meta: dict[str, Any]) -> str:
    """One line: commit, date, machine, CPU, cores, versions and load average."""
    before = (meta.get("load_average") or [None])[0]
    after = (meta.get("load_average_end") or [None])[0]
    load = f"load avg (1 min) {before} before, {after} after"
    return (
        f"commit {meta.get('commit', '?')} | {meta.get('date_utc', '?')} | "
        f"{meta.get('machine', '?')}: {meta.get('cpu_model', '?')}, {meta.get('cores', '?')}"
        f" cores | Python {meta.get('python', '?')}, numpy {meta.get('numpy', '?')} | {load}"
    )


def _finish(fig: Any, meta: dict[str, Any], caption: str, path: Path) -> Path:
    """Caption and footer under the axes (wrapped to the figure's width), then save."""
    import textwrap

    import matplotlib.pyplot as plt

    width_in, height_in = fig.get_size_inches()
    chars = int(width_in * 19)  # about 19 characters of 7-point text per inch
    lines = textwrap.wrap(caption, chars) + textwrap.wrap(footer_text(meta), chars)
    line_in = 7.5 * 1.35 / 72  # 7-point text with line spacing, in inches
    fig.text(0.01, 0.01, "\n".join(lines), fontsize=7, ha="left", va="bottom", color="0.2")
    bottom = min(0.4, (len(lines) * line_in + 0.12) / height_in)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _series(rows: list[dict[str, Any]], op: str, x: str) -> list[dict[str, Any]]:
    return sorted((r for r in rows if r["op"] == op), key=lambda r: r[x])


def _time_plot(doc: dict[str, Any], x: str, out: Path) -> Path:
    import matplotlib.pyplot as plt

    rows = doc["results"]
    fig, ax = plt.subplots(figsize=(8, 5.2))
    for op in doc["ops"]:
        pts = _series(rows, op, x)
        if not pts:
            continue
        ys = [spread(r["online_seconds_all"]) for r in pts]
        ax.errorbar(
            [r[x] for r in pts],
            [y[0] for y in ys],
            yerr=[[y[1] for y in ys], [y[2] for y in ys]],
            marker="o",
            ms=4,
            capsize=3,
            label=op,
        )
    r0 = rows[0]
    ax.set_yscale("log")
    ax.set_ylabel("online seconds (slowest party per repetition)")
    if x == "size":
        ax.set_xscale("log")
        ax.set_xlabel("batch size (elements per operand)")
        ax.set_title(f"Online time vs batch size, {r0['parties']} parties")
    else:
        ax.set_xlabel("number of parties")
        ax.set_xticks(sorted({r["parties"] for r in rows}))
        ax.set_title(f"Online time vs parties, batch {r0['size']:,}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    caption = (
        "mpc bench: one process per party, TLS 1.3 on loopback, a separate dealer process;"
        " dealer material prefetched, not timed. " + SPREAD.format(r=r0["repeat"]) + "."
    )
    return _finish(fig, doc["metadata"], caption, out)


def per_element(row: dict[str, Any]) -> list[float]:
    """(peak RSS - idle RSS) / size for every party, in bytes per element."""
    peaks, idles = row["peak_rss_bytes_by_party"], row["idle_rss_bytes_by_party"]
    return [(p - i) / row["size"] for p, i in zip(peaks, idles, strict=True)]


def _memory_plot(doc: dict[str, Any], out: Path) -> Path:
    import matplotlib.pyplot as plt

    rows = [r for r in doc["results"] if r.get("peak_rss_bytes_by_party")]
    fig, ax = plt.subplots(figsize=(8, 5.2))
    for op in doc["ops"]:
        pts = _series(rows, op, "size")
        if not pts:
            continue
        ys = [spread(per_element(r)) for r in pts]
        ax.errorbar(
            [r["size"] for r in pts],
            [max(y[0], 1e-3) for y in ys],
            yerr=[[y[1] for y in ys], [y[2] for y in ys]],
            marker="o",
            ms=4,
            capsize=3,
            label=op,
        )
    ax.set_xscale("log")
    ax.set_yscale("log", nonpositive="clip")
    ax.set_xlabel("batch size (elements per operand)")
    ax.set_ylabel("(peak RSS - idle RSS) / size, bytes per element")
    ax.set_title(f"Memory per element, {rows[0]['parties']} parties (whole job, every repetition)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    caption = (
        "Peak: ru_maxrss at the end of the job (operands, prefetched dealer material, online);"
        " idle: when the job's program started. " + MEM_SPREAD.format(n=rows[0]["parties"]) + "."
    )
    return _finish(fig, doc["metadata"], caption, out)


def _spread_bars(
    ax: Any, xs: list[float], ys: list[tuple[float, float, float]], width: float, label: str
) -> None:
    """Bars at the medians of :func:`spread` tuples, with their min-max error bars."""
    ax.bar(xs, [y[0] for y in ys], width, label=label)
    ax.errorbar(
        xs,
        [y[0] for y in ys],
        yerr=[[y[1] for y in ys], [y[2] for y in ys]],
        fmt="none",
        ecolor="k",
        capsize=3,
    )


def _mpyc_plot(doc: dict[str, Any], out: Path) -> Path:
    import matplotlib.pyplot as plt

    rows = doc["results"]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 5.2))
    labels = [f"{r['op']} {r['size']:,}" for r in rows]
    series = [
        ("ours, online", [r["ours"]["online_seconds_all"] for r in rows]),
        (
            f"ours, end to end ({doc.get('preprocessing', 'ot')})",
            [r["ours_end_to_end_seconds_all"] for r in rows],
        ),
        ("MPyC", [r["mpyc"]["online_seconds_all"] for r in rows]),
    ]
    width = 0.27
    for k, (name, samples) in enumerate(series):
        xs = [i + (k - 1) * width for i in range(len(rows))]
        _spread_bars(ax_t, xs, [spread(s) for s in samples], width, name)
    ax_t.set_yscale("log")
    ax_t.set_xticks(range(len(rows)), labels)
    ax_t.set_ylabel("seconds (slowest party per repetition)")
    ax_t.set_title("Time, 3 parties")
    ax_t.legend(fontsize=8)
    for k, (name, key) in enumerate((("ours", "ours"), ("MPyC", "mpyc"))):
        ys = [spread([b / 2**20 for b in r[key]["peak_rss_bytes_by_party"]]) for r in rows]
        xs = [i + (k - 0.5) * width for i in range(len(rows))]
        _spread_bars(ax_m, xs, ys, width, name)
    ax_m.set_xticks(range(len(rows)), labels)
    ax_m.set_ylabel("peak RSS per party (MiB)")
    ax_m.set_title("Peak resident memory per party")
    ax_m.legend(fontsize=8)
    for ax in (ax_t, ax_m):
        ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.suptitle(f"Ours vs MPyC {doc.get('mpyc_version', '')} in the same run")
    caption = (
        f"Ours: {doc.get('ours_mode', '')}. MPyC: {doc.get('mpyc_mode', '')}. Times: "
        + SPREAD.format(r=doc.get("repeat", "the"))
        + "; memory: "
        + MEM_SPREAD.format(n=3)
        + "."
    )
    return _finish(fig, doc["metadata"], caption, out)


def _mib(values: list[int]) -> str:
    lo, hi = min(values) / 2**20, max(values) / 2**20
    return f"{lo:.0f}" if round(lo) == round(hi) else f"{lo:.0f}–{hi:.0f}"


def _s(x: float) -> str:
    return f"{x:.3g}" if x < 10 else f"{x:.1f}"


def mpyc_table(doc: dict[str, Any]) -> str:
    """The README table: times (median, min–max) and peak RSS per party, ours vs MPyC."""
    lines = [
        "| op | size | ours, online (s) | ours, end to end with OT (s) | MPyC (s) "
        "| MPyC / ours, end to end | peak RSS per party, ours (MiB) | MPyC (MiB) |",
        "|----|------|------|------|------|------|------|------|",
    ]
    for r in doc["results"]:
        o, e, m = r["ours"]["online_seconds_all"], r["ours_end_to_end_seconds_all"], r["mpyc"]
        mm = m["online_seconds_all"]
        exp = len(str(r["size"])) - 1
        size = f"10^{exp}" if r["size"] == 10**exp else str(r["size"])
        lines.append(
            f"| {r['op']} | {size} | {_s(statistics.median(o))} ({_s(min(o))}–{_s(max(o))})"
            f" | {_s(statistics.median(e))} ({_s(min(e))}–{_s(max(e))})"
            f" | {_s(statistics.median(mm))} ({_s(min(mm))}–{_s(max(mm))})"
            f" | {r['ratio_mpyc_over_ours_end_to_end']:.2g}×"
            f" | {_mib(r['ours']['peak_rss_bytes_by_party'])}"
            f" | {_mib(m['peak_rss_bytes_by_party'])} |"
        )
    return "\n".join(lines)


def sweep_table(doc: dict[str, Any]) -> str:
    """Online seconds (median, min–max) and memory per element, one line per point."""
    lines = [
        "| op | parties | size | online s, median (min–max) | peak RSS per party (MiB) "
        "| (peak − idle) / size, B |",
        "|----|----|----|----|----|----|",
    ]
    for r in sorted(doc["results"], key=lambda r: (r["op"], r["parties"], r["size"])):
        o = r["online_seconds_all"]
        lines.append(
            f"| {r['op']} | {r['parties']} | {r['size']:,} | {_s(statistics.median(o))}"
            f" ({_s(min(o))}–{_s(max(o))}) | {_mib(r['peak_rss_bytes_by_party'])}"
            f" | {statistics.median(per_element(r)):.0f} |"
        )
    return "\n".join(lines)


def draw(results: Path, out: Path) -> list[Path]:
    """Every figure whose JSON exists in ``results``; the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    sizes = load(results / "sweep_sizes.json")
    if sizes and sizes["results"]:
        written.append(_time_plot(sizes, "size", out / "vs_size.png"))
        written.append(_memory_plot(sizes, out / "memory_per_element.png"))
    parties = load(results / "sweep_parties.json")
    if parties and parties["results"]:
        written.append(_time_plot(parties, "parties", out / "vs_parties.png"))
    mpyc = load(results / "mpyc_compare_ot.json")
    if mpyc and mpyc["results"]:
        written.append(_mpyc_plot(mpyc, out / "mpyc_compare.png"))
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--results", default=str(RESULTS), help="where the JSONs are")
    ap.add_argument("--out", help="where the PNGs go (default: --results)")
    ap.add_argument("--markdown", action="store_true", help="also print the tables")
    args = ap.parse_args(argv)
    results = Path(args.results)
    written = draw(results, Path(args.out) if args.out else results)
    for p in written:
        print(f"wrote {p}")
    if not written:
        print(f"nothing to draw: no result JSONs in {results} (run benchmarks/sweep.py)")
    if args.markdown:
        for name, table in (
            ("mpyc_compare_ot.json", mpyc_table),
            ("sweep_sizes.json", sweep_table),
            ("sweep_parties.json", sweep_table),
        ):
            doc = load(results / name)
            if doc and doc["results"]:
                print(f"\n{name} ({footer_text(doc['metadata'])})\n\n{table(doc)}")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
