"""``mpc demo xgboost`` and ``mpc demo xgboost-train``: private XGBoost over real processes.

* ``xgboost`` - a model trained by the real ``xgboost`` package on scikit-learn's
  breast_cancer data (30 features) is secret-shared by its owner (party 1); a client (party 3)
  asks ``--single`` queries one at a time and ``--queries`` in one batch; only the client
  learns the margins.  Prints the agreement with ``Booster.predict`` and the latency,
  throughput, rounds and bytes of each phase.
* ``xgboost-train`` - three parties hold a synthetic classification set (scikit-learn's
  ``make_classification``, ``--rows`` training rows plus a held-out quarter for testing) split
  ``--split vertical`` (columns; party 1 also has the labels) or ``horizontal`` (rows); they
  train ``--trees`` trees of ``--depth`` privately and reveal the model to party 1 only.
  Prints the test AUC next to plaintext xgboost trained with the same bins and
  hyper-parameters, the tree-by-tree agreement, and time, rounds and bytes per phase.

Each demo makes throwaway certificates, starts a coordinator, three party processes and (with
``--preprocessing dealer``, the default here) a dealer on loopback over TLS 1.3
(:class:`mpc_runtime.launcher.LocalCluster`), and removes everything afterwards.

``register(dsub)`` adds both demos to ``mpc demo``'s sub-parsers; until then
``python -m mpc_runtime.cli.demo_xgboost xgboost-train ...`` runs them directly.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from mpc_runtime.cli.output import add_demo_options, demo_failure, info, plural, result

NAMES = ["p1", "p2", "p3"]
DATA_BOUND = 1e6
"""Public bounds every data value (features, queries) is checked against at its owner."""
_TIMING = re.compile(r"^mpc: timing (\{.*\})$")


def register(dsub: Any) -> None:
    """Add ``xgboost`` and ``xgboost-train`` to the ``mpc demo`` sub-parsers."""
    x = dsub.add_parser("xgboost", help="private inference with a model trained by xgboost")
    x.add_argument("--trees", type=int, default=100, help="boosting rounds (default 100)")
    x.add_argument("--depth", type=int, default=6, help="max_depth (default 6)")
    x.add_argument("--queries", type=int, default=100, help="queries in the batch")
    x.add_argument("--single", type=int, default=3, help="queries asked one at a time")
    x.add_argument("--batches", type=int, default=3, help="batches of --queries (default 3)")
    x.add_argument("--hidden-features", action="store_true", help="hide feature indices too")
    _common(x)
    t = dsub.add_parser("xgboost-train", help="train XGBoost privately on split data")
    t.add_argument("--rows", type=int, default=10000, help="training rows (default 10000)")
    t.add_argument("--features", type=int, default=30, help="features (default 30)")
    t.add_argument("--depth", type=int, default=4, help="max_depth (default 4)")
    t.add_argument("--trees", type=int, default=5, help="trees (default 5)")
    t.add_argument("--split", choices=("vertical", "horizontal"), default="vertical")
    t.add_argument("--max-bin", type=int, default=16, help="bins per feature (default 16)")
    t.add_argument("--eta", type=float, default=0.3, help="learning rate (default 0.3)")
    t.add_argument(
        "--comparison",
        choices=("tree", "constant"),
        default="tree",
        help="comparison protocol: tree (8 rounds, default) or constant (4 rounds, dealer only)",
    )
    t.add_argument(
        "--mode",
        choices=("auto", "helper", "beaver"),
        default="auto",
        help="private-matrix backend (auto: helper with 3 parties)",
    )
    _common(t)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    add_demo_options(p, default="dealer")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mpc_runtime.errors import UsageError

    if not 0 < args.timeout <= 7200:
        raise UsageError("--timeout must be a positive number of seconds (at most 7200)")
    if args.demo == "xgboost":
        _check_inference_args(args)
        return _inference(args)
    _check_training_args(args)
    return _training(args)


# ---- running a cluster -----------------------------------------------------------------------
def _cluster(
    args: argparse.Namespace, spec: dict[str, Any], inputs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run the job on 3 party processes; each party's JSON report plus its timing lines."""
    from mpc_runtime.launcher import LocalCluster

    work = Path(tempfile.mkdtemp(prefix=f"mpc-demo-{args.demo}-"))
    dealer = args.preprocessing == "dealer"
    try:
        info(f"demo {args.demo}: making throwaway certificates for 3 parties in {work}")
        cluster = LocalCluster(
            work,
            NAMES,
            separate_dealer=dealer,
            preprocessing=args.preprocessing,
            round_timeout=300.0,
        )  # parties and the dealer keep freed memory themselves (procinfo.keep_freed_memory)
        with cluster:
            path = cluster.write_spec(spec)
            cluster.start_coordinator(path)
            if dealer:
                cluster.start_dealer()
            for pid, inp in enumerate(inputs, start=1):
                cluster.start_party(pid, path, inp, extra=["--json"])
            info(
                f"demo {args.demo}: started a coordinator, 3 parties"
                f"{' and a dealer' if dealer else ''} on 127.0.0.1 over TLS 1.3"
            )
            codes = cluster.wait(args.timeout)
            if any(c != 0 for c in codes.values()):
                raise demo_failure(cluster, codes)
            reports = []
            for p in cluster.procs:
                if p.label.startswith("party:"):
                    rep = json.loads([x for x in p.stdout.splitlines() if x.startswith("{")][-1])
                    rep["timing"] = [
                        json.loads(m.group(1))
                        for m in (_TIMING.match(x) for x in p.stderr.splitlines())
                        if m
                    ]
                    reports.append(rep)
            return reports
    finally:
        if args.keep:
            info(f"demo {args.demo}: work directory kept at {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _ops(reports: list[dict[str, Any]], op: str) -> tuple[int, int, int]:
    """(rounds, max bytes sent by a party, max offline bytes received) of ``main/<op>``."""
    on = [r["ledger"]["online"]["ops"].get(f"main/{op}", {}) for r in reports]
    off = [r["ledger"]["offline"]["ops"].get(f"main/{op}", {}) for r in reports]
    rounds = max(int(o.get("rounds", 0)) for o in on)
    sent = max(int(o.get("bytes_sent", 0)) for o in on)
    pre = max(int(o.get("bytes_received", 0)) for o in off)
    return rounds, sent, pre


def _seconds(report: dict[str, Any], prefix: str) -> list[float]:
    return [float(t["seconds"]) for t in report["timing"] if str(t["phase"]).startswith(prefix)]


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"


# ---- inference ----------------------------------------------------------------------------------
def _check_inference_args(args: argparse.Namespace) -> None:
    from mpc_runtime.errors import UsageError

    if not 1 <= args.trees <= 1000 or not 1 <= args.depth <= 10:
        raise UsageError("--trees must be in [1, 1000] and --depth in [1, 10]")
    if not 1 <= args.queries <= 10000 or not 0 <= args.single <= 20:
        raise UsageError("--queries must be in [1, 10000] and --single in [0, 20]")
    if not 1 <= args.batches <= 10:
        raise UsageError("--batches must be in [1, 10]")


def _inference_spec(args: argparse.Namespace, t: int, total: int) -> dict[str, Any]:
    """The inference job: the owner's model arrays, the client's queries, its outputs."""
    nodes, leaves = (1 << args.depth) - 1, 1 << args.depth
    return {
        "job_id": "demo-xgboost",
        "program": "protocols.trees.jobs:inference_job",
        "params": {
            "owner": 1,
            "client": 3,
            "trees": t,
            "depth": args.depth,
            "features": 30,
            "single": args.single,
            "batches": args.batches,
            "public_features": not args.hidden_features,
            "timing": True,
        },
        "inputs": [
            {"party": 1, "name": "model_features", "shape": [t, nodes], "min": 0, "max": 29},
            {
                "party": 1,
                "name": "model_thresholds",
                "shape": [t, nodes],
                "min": -0x7F800000,
                "max": 0x7F800000,
            },
            {
                "party": 1,
                "name": "model_leaves",
                "kind": "fixed",
                "frac_bits": 24,
                "shape": [t, leaves],
                "min": -1000.0,
                "max": 1000.0,
            },
            {
                "party": 1,
                "name": "base_margin",
                "kind": "fixed",
                "frac_bits": 24,
                "min": -1000.0,
                "max": 1000.0,
            },
            {
                "party": 3,
                "name": "queries",
                "kind": "fixed",
                "frac_bits": 16,
                "shape": [total, 30],
                "min": -DATA_BOUND,
                "max": DATA_BOUND,
            },
        ],
        "outputs": [{"name": f"single_{i}", "recipients": ["party:3"]} for i in range(args.single)]
        + [{"name": f"batch_{b}", "recipients": ["party:3"]} for b in range(args.batches)],
    }


def _inference_inputs(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    """(booster, query matrix, spec) for the inference demo."""
    import numpy as np
    import xgboost as xgb
    from sklearn.datasets import load_breast_cancer

    from protocols.trees.model import load_model

    X, y = load_breast_cancer(return_X_y=True)
    import hashlib

    # a fixed, public shuffle of the public dataset (a hash order, not a random generator)
    keys = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(len(X))]
    order = np.array(sorted(range(len(X)), key=keys.__getitem__))
    train, rest = order[:400], order[400:]
    params = {
        "objective": "binary:logistic",
        "max_depth": args.depth,
        "tree_method": "hist",
        "seed": 1,
    }
    booster = xgb.train(params, xgb.DMatrix(X[train], label=y[train]), args.trees)
    flat = load_model(booster).flatten(args.depth)
    total = args.single + args.batches * args.queries
    queries = X[rest[np.arange(total) % rest.size]]
    spec = _inference_spec(args, flat.n_trees, total)
    owner = {
        "model_features": flat.feature.tolist(),
        "model_thresholds": flat.threshold_keys().tolist(),
        "model_leaves": flat.leaf.astype(float).tolist(),
        "base_margin": float(flat.base_margin),
    }
    return booster, queries, {"spec": spec, "inputs": [owner, {}, {"queries": queries.tolist()}]}


def _inference(args: argparse.Namespace) -> int:
    import numpy as np
    import xgboost as xgb

    from mpc_runtime.errors import MPCError

    booster, queries, job = _inference_inputs(args)
    reports = _cluster(args, job["spec"], job["inputs"])
    client = reports[2]["outputs"]
    if any(r["outputs"] for r in reports[:2]):
        raise MPCError("demo: a party other than the client learned an output")
    got = np.array(
        [
            *(client[f"single_{i}"][0] for i in range(args.single)),
            *(v for b in range(args.batches) for v in client[f"batch_{b}"]),
        ],
        dtype=np.float64,
    )
    ref = booster.predict(xgb.DMatrix(queries), output_margin=True).astype(np.float64)
    diff = float(np.max(np.abs(got - ref)))
    same = int(np.sum((got > 0) == (ref > 0)))
    result(
        f"client (party 3) learned {len(got)} margins; max |difference| from"
        f" Booster.predict = {diff:.3g}; same predicted class for {same}/{len(got)}"
    )
    result(
        "the model owner (party 1) and party 2 learned nothing; the client learned only its margins"
    )
    _inference_costs(args, reports)
    return 0


def _inference_costs(args: argparse.Namespace, reports: list[dict[str, Any]]) -> None:
    client = reports[2]
    share_s = _seconds(client, "share_model")
    r, b, pre = _ops(reports, "share_model")
    result(
        f"share model: {share_s[0] if share_s else 0:.3f} s, {plural(r, 'round')},"
        f" {_mb(b)} sent by the owner"
    )
    singles = _seconds(client, "single")
    if singles:
        r, b, pre = _ops(reports, "single")
        k = len(singles)
        result(
            f"one query: median {1000 * statistics.median(singles):.1f} ms of {k}"
            f" (the first, with warm-up: {1000 * singles[0]:.1f} ms; share + predict +"
            f" reveal), {plural(r // k, 'round')},"
            f" {_mb(b / k)} sent per party, {_mb(pre / k)} preprocessing"
        )
    batch = _seconds(client, "batch")
    r, b, pre = _ops(reports, "batch")
    q, k = args.queries, len(batch)
    rest = batch[1:] or batch
    result(
        f"batches of {q}: first {batch[0]:.3f} s = {q / batch[0]:.0f} queries/s; then"
        f" median {statistics.median(rest):.3f} s = {q / statistics.median(rest):.0f}"
        f" queries/s (share + predict + reveal); {plural(r // k, 'round')},"
        f" {_mb(b / (k * q))} per query sent per party, {_mb(pre / (k * q))} preprocessing"
        f" per query ({args.preprocessing})"
    )


# ---- training --------------------------------------------------------------------------------
def _check_training_args(args: argparse.Namespace) -> None:
    from mpc_runtime.errors import UsageError

    if not 20 <= args.rows <= 200000 or not 3 <= args.features <= 500:
        raise UsageError("--rows must be in [20, 200000] and --features in [3, 500]")
    if not 1 <= args.depth <= 8 or not 1 <= args.trees <= 100:
        raise UsageError("--depth must be in [1, 8] and --trees in [1, 100]")
    if not 2 <= args.max_bin <= 64 or not 0 < args.eta <= 1:
        raise UsageError("--max-bin must be in [2, 64] and --eta in (0, 1]")
    if args.comparison == "constant" and args.preprocessing != "dealer":
        raise UsageError("--comparison constant needs --preprocessing dealer")


def _training_data(args: argparse.Namespace) -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import make_classification

    n_test = max(10, args.rows // 4)
    X, y = make_classification(
        n_samples=args.rows + n_test,
        n_features=args.features,
        n_informative=max(2, args.features // 3),
        flip_y=0.05,
        random_state=7,
    )
    return X[: args.rows], y[: args.rows], X[args.rows :], y[args.rows :]


def _training_spec(args: argparse.Namespace, X: Any, y: Any) -> tuple[dict[str, Any], list[Any]]:
    n, f = X.shape
    params = {
        "split": args.split,
        "trees": args.trees,
        "depth": args.depth,
        "max_bin": args.max_bin,
        "eta": args.eta,
        "lambda": 1.0,
        "gamma": 0.0,
        "min_child_weight": 1.0,
        "base_score": 0.5,
        "mode": args.mode,
        "comparison": args.comparison,
        "timing": True,
    }
    decl: list[dict[str, Any]] = []
    inputs: list[dict[str, Any]] = []
    for p in range(3):
        if args.split == "vertical":
            cols = list(range(p * f // 3, (p + 1) * f // 3))
            part, shape = X[:, cols], [n, len(cols)]
            inp: dict[str, Any] = {"X": part.tolist()}
            if p == 0:
                inp["y"] = [int(v) for v in y]
                decl.append({"party": 1, "name": "y", "shape": [n], "min": 0, "max": 1})
        else:
            rows = slice(p * n // 3, (p + 1) * n // 3)
            part, shape = X[rows], [rows.stop - rows.start, f]
            inp = {"X": part.tolist(), "y": [int(v) for v in y[rows]]}
            decl.append({"party": p + 1, "name": "y", "shape": [shape[0]], "min": 0, "max": 1})
        decl.append(
            {
                "party": p + 1,
                "name": "X",
                "kind": "fixed",
                "frac_bits": 16,
                "shape": shape,
                "min": -DATA_BOUND,
                "max": DATA_BOUND,
            }
        )
        inputs.append(inp)
    outs = [
        {"name": o, "recipients": ["party:1"]}
        for o in ("model_features", "model_thresholds", "model_leaves")
    ]
    spec = {
        "job_id": "demo-xgboost-train",
        "program": "protocols.trees.jobs:train_job",
        "params": params,
        "inputs": decl,
        "outputs": outs,
    }
    return spec, inputs


def _plaintext(args: argparse.Namespace, X: Any, y: Any) -> tuple[Any, Any]:
    """(booster trained by xgboost on the same bins, the cuts)."""
    import xgboost as xgb

    from protocols.trees.binning import bin_index, quantile_cuts
    from protocols.trees.cuts import plaintext_cuts

    cuts = (
        quantile_cuts(X, args.max_bin)
        if args.split == "vertical"
        else plaintext_cuts(X, args.max_bin)
    )
    params = {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "max_bin": 256,
        "max_depth": args.depth,
        "eta": args.eta,
        "lambda": 1.0,
        "gamma": 0.0,
        "min_child_weight": 1.0,
        "base_score": 0.5,
    }
    dtrain = xgb.DMatrix(bin_index(X, cuts).astype("float64"), label=y)
    return xgb.train(params, dtrain, args.trees), cuts


def _training(args: argparse.Namespace) -> int:
    import numpy as np
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score

    from mpc_runtime.errors import MPCError
    from protocols.trees.binning import bin_index
    from protocols.trees.export import flat_model, xgboost_bytes

    X, y, Xt, yt = _training_data(args)
    spec, inputs = _training_spec(args, X, y)
    info(
        f"demo {args.demo}: {args.rows} rows x {args.features} features, {args.split} split,"
        f" {args.trees} trees of depth {args.depth}, max_bin {args.max_bin}"
    )
    reports = _cluster(args, spec, inputs)
    if reports[1]["outputs"] or reports[2]["outputs"]:
        raise MPCError("demo: a party other than the recipient learned the model")
    out = reports[0]["outputs"]
    flat = flat_model(
        out["model_features"],
        out["model_thresholds"],
        out["model_leaves"],
        base_score=0.5,
        n_features=args.features,
    )
    ours = xgb.Booster()
    ours.load_model(bytearray(xgboost_bytes(flat, 0.5)))
    ref, cuts = _plaintext(args, X, y)
    p_ours = ours.predict(xgb.DMatrix(Xt))
    p_ref = ref.predict(xgb.DMatrix(bin_index(Xt, cuts).astype("float64")))
    a_ours, a_ref = roc_auc_score(yt, p_ours), roc_auc_score(yt, p_ref)
    result(
        f"test AUC ({len(yt)} held-out rows): private {a_ours:.4f}, plaintext xgboost with"
        f" the same bins and hyper-parameters {a_ref:.4f} (difference {a_ours - a_ref:+.4f})"
    )
    m_ours = ours.predict(xgb.DMatrix(Xt), output_margin=True)
    m_ref = ref.predict(xgb.DMatrix(bin_index(Xt, cuts).astype("float64")), output_margin=True)
    result(
        f"test margins: max |difference| {float(np.max(np.abs(m_ours - m_ref))):.3g};"
        f" same predicted class for {int(np.sum((m_ours > 0) == (m_ref > 0)))}/{len(yt)}"
    )
    result(
        "party 1 (the recipient) learned the model; parties 2 and 3 learned nothing"
        + ("; the cut values are public to all three" if args.split == "horizontal" else "")
    )
    _training_costs(args, reports)
    return 0


def _training_costs(args: argparse.Namespace, reports: list[dict[str, Any]]) -> None:
    first = reports[0]
    setup = _seconds(first, "setup")
    r, b, pre = _ops(reports, "train_setup")
    result(
        f"setup (binning, private matrices, labels): {setup[0]:.2f} s,"
        f" {plural(r, 'round')}, {_mb(b)} sent by the busiest party"
    )
    trees = _seconds(first, "tree")
    r, b, pre = _ops(reports, "tree")
    t = max(1, len(trees))
    result(
        f"per tree: {statistics.mean(trees):.2f} s mean, {max(trees):.2f} s max;"
        f" {plural(r // t, 'round')}, {_mb(b / t)} sent per party,"
        f" {_mb(pre / t)} preprocessing per party ({args.preprocessing})"
    )
    model = _seconds(first, "model")
    r, b, _ = _ops(reports, "model")
    result(f"model reveal: {model[0]:.2f} s, {plural(r, 'round')}")


def main(argv: list[str] | None = None) -> int:
    """Run a demo without ``mpc demo`` (until :func:`register` is wired into it)."""
    from mpc_runtime.cli.output import error_line
    from mpc_runtime.errors import MPCError

    parser = argparse.ArgumentParser(prog="mpc demo")
    dsub = parser.add_subparsers(dest="demo", metavar="<demo>", required=True)
    register(dsub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except MPCError as err:
        print(error_line("demo", str(err)), file=sys.stderr, flush=True)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
