"""``mpc demo``: the worked examples, each run as real processes over mutually authenticated TLS.

* ``salary``: the four engineers' average raise (Alice 3800, Bob 2514, Carlos 2982, David 3390);
  every engineer learns the average and nothing else.
* ``vote``: a secret ballot; reveals the tally only.
* ``referendum``: reveals only YES or NO (yes votes >= half), not the counts.
* ``auction``: a sealed-bid auction revealing the winner and the winning bid, or with
  ``--second-price`` the winner and the second-highest bid (Vickrey); losing bids stay hidden.

Each demo makes throwaway certificates in a temporary directory, starts a coordinator and one
process per participant on loopback, prints what the participants learned and what it cost,
and removes everything it made.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from mpc_runtime.cli.output import format_value, info, result

DEFAULT_RAISES = {"alice": 3800, "bob": 2514, "carlos": 2982, "david": 3390}
DEFAULT_VOTES = {"alice": "red", "bob": "green", "carlos": "red", "david": "blue", "erin": "red"}
DEFAULT_BALLOT = {"alice": "yes", "bob": "no", "carlos": "yes", "david": "no", "erin": "yes"}
DEFAULT_BIDS = {"alice": 120, "bob": 250, "carlos": 180, "david": 90}
MAX_PARTIES = 12


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="run a worked example as separate processes over TLS",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dsub = p.add_subparsers(dest="demo", metavar="<demo>", required=True)

    s = dsub.add_parser("salary", help="average raise of four engineers (the seed article)")
    s.add_argument(
        "--raises",
        help="comma-separated NAME=RAISE pairs or plain numbers, e.g. alice=3800,bob=2514",
    )
    _common(s)

    v = dsub.add_parser("vote", help="secret ballot revealing the tally only")
    v.add_argument("--options", default="red,green,blue", help="comma-separated options")
    v.add_argument("--votes", help="comma-separated NAME=OPTION pairs or plain options")
    _common(v)

    r = dsub.add_parser("referendum", help="reveals only YES or NO")
    r.add_argument("--votes", help="comma-separated NAME=yes|no pairs or plain yes/no")
    _common(r)

    a = dsub.add_parser("auction", help="sealed-bid auction revealing only the winner")
    a.add_argument("--bids", help="comma-separated NAME=BID pairs or plain non-negative integers")
    a.add_argument("--second-price", action="store_true", help="Vickrey: winner pays 2nd bid")
    _common(a)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-file", help="JSON file {name: value} instead of the flag")
    p.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, certs)")
    p.set_defaults(func=run)


def _pairs(
    text: str | None, file: str | None, default: dict[str, Any], what: str
) -> dict[str, Any]:
    from mpc_runtime.errors import UsageError

    if file:
        try:
            data = json.loads(Path(file).read_text())
        except (OSError, ValueError):
            raise UsageError(f"{file}: cannot read a JSON object of {what}") from None
        if not isinstance(data, dict) or not data:
            raise UsageError(f"{file}: must hold a JSON object {{name: value}} of {what}")
        out = {str(k): v for k, v in data.items()}
    elif text:
        out = {}
        for i, item in enumerate(x.strip() for x in text.split(",") if x.strip()):
            name, sep, value = item.partition("=")
            if not sep:
                name, value = f"p{i + 1}", item
            name = name.strip().lower()
            if name in out:
                raise UsageError(f"{what}: {name!r} appears twice")
            out[name] = value.strip()
    else:
        out = dict(default)
    if not 2 <= len(out) <= MAX_PARTIES:
        raise UsageError(f"{what}: need between 2 and {MAX_PARTIES} participants, got {len(out)}")
    for name in out:
        if not name.replace("_", "").replace("-", "").isalnum():
            raise UsageError(f"{what}: bad participant name {name[:20]!r}")
    return out


def _int(value: Any, what: str, name: str, lo: int | None = None) -> int:
    from mpc_runtime.errors import UsageError

    try:
        v = int(str(value), 10)
    except ValueError:
        raise UsageError(f"{what} of {name} is not an integer") from None
    if lo is not None and v < lo:
        raise UsageError(f"{what} of {name} must be >= {lo}")
    return v


def _run_cluster(
    args: argparse.Namespace,
    names: list[str],
    program: str,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    params: dict[str, Any],
    input_decls: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    from mpc_runtime.errors import MPCError
    from mpc_runtime.node.launcher import LocalCluster, first_error_line

    tmp = tempfile.mkdtemp(prefix=f"mpc-demo-{args.demo}-")
    work = Path(tmp)
    try:
        info(f"demo {args.demo}: making throwaway certificates for {len(names)} parties in {work}")
        cluster = LocalCluster(work, names)
        with cluster:
            spec = cluster.write_spec(
                {
                    "job_id": f"demo-{args.demo}",
                    "program": program,
                    "params": params,
                    "inputs": input_decls,
                    "outputs": outputs,
                }
            )
            cluster.start_coordinator(spec)
            for pid, inp in enumerate(inputs, start=1):
                cluster.start_party(pid, spec, inp, extra=["--json"])
            info(
                f"demo {args.demo}: started a coordinator and {len(names)} party processes"
                f" ({', '.join(names)}) on 127.0.0.1 over mutually authenticated TLS 1.3"
            )
            codes = cluster.wait(args.timeout)
            failed = {k: c for k, c in codes.items() if c != 0}
            if failed:
                for p in cluster.procs:
                    if p.label in failed:
                        info(f"{p.label} exited {failed[p.label]}: {first_error_line(p.stderr)}")
                raise MPCError(
                    f"demo {args.demo} failed: {', '.join(sorted(failed))} exited non-zero"
                )
            reports = []
            for p in cluster.procs:
                if p.label.startswith("party:"):
                    line = [x for x in p.stdout.splitlines() if x.startswith("{")][-1]
                    reports.append(json.loads(line))
            return reports
    finally:
        if args.keep:
            info(f"demo {args.demo}: work directory kept at {work}")
        else:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


def _agreed(reports: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    from mpc_runtime.errors import MPCError

    first = reports[0]["outputs"]
    for name, rep in zip(names, reports, strict=True):
        if rep["outputs"] != first:
            raise MPCError(f"demo: {name} learned something different from {names[0]}")
    return dict(first)


def _cost(reports: list[dict[str, Any]]) -> None:
    on = [r["ledger"]["online"]["total"] for r in reports]
    off = [r["ledger"]["offline"]["total"] for r in reports]
    rounds = max(int(o["rounds"]) for o in on)
    sent = max(int(o["bytes_sent"]) for o in on)
    pre = max(int(o["bytes_received"]) for o in off)
    result(
        f"cost per party: {rounds} online rounds, at most {sent} bytes sent;"
        f" preprocessing: at most {pre} bytes from the dealer"
    )


def run(args: argparse.Namespace) -> int:
    handler = {"salary": _salary, "vote": _vote, "referendum": _referendum, "auction": _auction}
    return handler[args.demo](args)


def _decls(n: int, name: str) -> list[dict[str, Any]]:
    return [{"party": i, "name": name, "kind": "int", "shape": []} for i in range(1, n + 1)]


def _everyone(n: int) -> list[str]:
    return [f"party:{i}" for i in range(1, n + 1)]


def _salary(args: argparse.Namespace) -> int:
    raw = _pairs(args.raises, args.input_file, DEFAULT_RAISES, "raises")
    names = list(raw)
    values = [_int(v, "the raise", k) for k, v in raw.items()]
    n = len(names)
    reports = _run_cluster(
        args,
        names,
        "protocols.apps:average_job",
        [{"value": v} for v in values],
        [{"name": "average", "recipients": _everyone(n)}],
        {},
        _decls(n, "value"),
    )
    out = _agreed(reports, names)
    result(
        f"every engineer ({', '.join(names)}) learned:"
        f" average raise = {format_value(out['average'])}"
    )
    result("nobody learned anyone else's raise: parties exchanged only uniformly random shares")
    _cost(reports)
    return 0


def _vote(args: argparse.Namespace) -> int:
    from mpc_runtime.errors import UsageError

    options = [o.strip() for o in args.options.split(",") if o.strip()]
    if len(options) < 2 or len(set(options)) != len(options):
        raise UsageError("--options needs at least two distinct options")
    raw = _pairs(args.votes, args.input_file, DEFAULT_VOTES, "votes")
    names = list(raw)
    choices = []
    for k, v in raw.items():
        if str(v) not in options:
            raise UsageError(f"the vote of {k} is not one of the options {', '.join(options)}")
        choices.append(options.index(str(v)))
    n = len(names)
    reports = _run_cluster(
        args,
        names,
        "protocols.apps:vote_job",
        [{"choice": c} for c in choices],
        [{"name": "tally", "recipients": _everyone(n)}],
        {"options": options},
        _decls(n, "choice"),
    )
    out = _agreed(reports, names)
    tally = out["tally"]
    result(
        f"tally ({n} secret ballots): "
        + ", ".join(f"{o}={c}" for o, c in zip(options, tally, strict=True))
    )
    result("no ballot was revealed: only the per-option counts")
    _cost(reports)
    return 0


def _referendum(args: argparse.Namespace) -> int:
    from mpc_runtime.errors import UsageError

    raw = _pairs(args.votes, args.input_file, DEFAULT_BALLOT, "votes")
    names = list(raw)
    votes = []
    for k, v in raw.items():
        text = str(v).strip().lower()
        if text not in ("yes", "no", "1", "0", "true", "false"):
            raise UsageError(f"the vote of {k} must be yes or no")
        votes.append(1 if text in ("yes", "1", "true") else 0)
    n = len(names)
    reports = _run_cluster(
        args,
        names,
        "protocols.apps:referendum_job",
        [{"vote": v} for v in votes],
        [{"name": "outcome", "recipients": _everyone(n)}],
        {},
        _decls(n, "vote"),
    )
    out = _agreed(reports, names)
    if set(out) != {"outcome"}:
        raise MPCError_("the referendum revealed more than its outcome")
    result(f"referendum outcome: {'YES' if int(out['outcome']) else 'NO'}")
    result("the number of yes and no votes was not revealed")
    _cost(reports)
    return 0


def MPCError_(msg: str) -> Exception:  # noqa: N802 - tiny factory keeps imports lazy
    from mpc_runtime.errors import MPCError

    return MPCError(msg)


def _auction(args: argparse.Namespace) -> int:
    raw = _pairs(args.bids, args.input_file, DEFAULT_BIDS, "bids")
    names = list(raw)
    bids = [_int(v, "the bid", k, lo=0) for k, v in raw.items()]
    n = len(names)
    outs = ["winner", "price"] if args.second_price else ["winner", "winning_bid"]
    reports = _run_cluster(
        args,
        names,
        "protocols.apps:auction_job",
        [{"bid": b} for b in bids],
        [{"name": o, "recipients": _everyone(n)} for o in outs],
        {"second_price": bool(args.second_price)},
        _decls(n, "bid"),
    )
    out = _agreed(reports, names)
    winner = int(out["winner"])
    who = names[winner - 1] if 1 <= winner <= n else f"party {winner}"
    if args.second_price:
        result(f"winner: {who}, pays the second-highest bid = {format_value(out['price'])}")
    else:
        result(f"winner: {who}, winning bid = {format_value(out['winning_bid'])}")
    result("losing bids stayed hidden")
    _cost(reports)
    return 0
