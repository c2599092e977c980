"""``mpc demo``: the worked examples, each run as real processes over mutually authenticated TLS.

Each demo makes throwaway certificates in a temporary directory, starts a coordinator and one
party process per participant on loopback (and a dealer process with ``--preprocessing dealer``),
prints what the participants learned, what each can infer from it, and what it cost, and removes
everything it made.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpc_runtime.cli import demo_dp
from mpc_runtime.cli.demo_contrib import add_contrib_args, register_fl
from mpc_runtime.cli.output import add_demo_options, demo_failure, info, plain, plural, result

DESCRIPTION = """\
Run a worked example as separate processes over mutually authenticated TLS 1.3:

  salary      the four engineers' average raise (each learns the average only)
  vote        a secret ballot revealing the tally only
  referendum  reveals only YES or NO, never the counts
  auction     a sealed-bid auction revealing the winner and the winning bid
              (--second-price: the winner and the second-highest bid)
  fl          federated learning: many clients' model updates summed for the model owner
  poll        a yes/no poll, randomized response inside MPC (differential privacy)
  approval    approval voting over many candidates: the winner by report-noisy-max
  xgboost     private inference with a model trained by xgboost
  xgboost-train  private XGBoost training on vertically or horizontally split data

With --voters N (vote) or --bidders N (auction), and always for fl, the inputs come from N
contributors (a load generator over TLS) who submit to three compute parties and leave; each
contribution is checked inside MPC and invalid ones are left out and counted.

Each participant's input is checked against the demo's public bounds by its own process before
anything is shared; a refused input stops every process at once, naming its owner.
"""

DEFAULT_RAISES = {"alice": 3800, "bob": 2514, "carlos": 2982, "david": 3390}
DEFAULT_VOTES = {"alice": "red", "bob": "green", "carlos": "red", "david": "blue", "erin": "red"}
DEFAULT_BALLOT = {"alice": "yes", "bob": "no", "carlos": "yes", "david": "no", "erin": "yes"}
DEFAULT_BIDS = {"alice": 120, "bob": 250, "carlos": 180, "david": 90}
MAX_PARTIES = 12
MAX_NAME = 32
RAISE_BOUNDS = (0, 1_000_000_000)
BID_BOUNDS = (0, 10**12)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="run a worked example as separate processes over TLS",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dsub = p.add_subparsers(dest="demo", metavar="<demo>", required=True)
    s = dsub.add_parser("salary", help="average raise of four engineers (the seed article)")
    s.add_argument("--raises", help="NAME=RAISE pairs or plain numbers, e.g. alice=3800,bob=2514")
    s.add_argument(
        "--epsilon", type=float, help="release a differentially private average (raises <= 10000)"
    )
    _common(s)
    v = dsub.add_parser("vote", help="secret ballot revealing the tally only")
    v.add_argument(
        "--options", default="red,green,blue", help="comma-separated options, or how many"
    )
    v.add_argument("--votes", help="NAME=OPTION pairs or plain options, comma-separated")
    v.add_argument("--voters", type=int, help="N contributors vote (a load generator)")
    add_contrib_args(v)
    _common(v)
    r = dsub.add_parser("referendum", help="reveals only YES or NO")
    r.add_argument("--votes", help="NAME=yes|no pairs or plain yes/no, comma-separated")
    _common(r)
    a = dsub.add_parser("auction", help="sealed-bid auction revealing only the winner")
    a.add_argument("--bids", help="NAME=BID pairs or plain non-negative integers")
    a.add_argument("--second-price", action="store_true", help="Vickrey: winner pays 2nd bid")
    a.add_argument("--bidders", type=int, help="N contributors bid (a load generator)")
    add_contrib_args(a)
    _common(a)
    register_fl(dsub, _common)
    demo_dp.register(dsub, _common)
    from mpc_runtime.cli import demo_psi, demo_xgboost

    demo_xgboost.register(dsub)
    demo_psi.register(dsub)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-file", help="JSON file {name: value} instead of the flag")
    p.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    add_demo_options(p)
    p.set_defaults(func=run)


def _read_file(file: str, what: str) -> dict[str, Any]:
    from mpc_runtime.errors import UsageError

    try:
        data = json.loads(Path(file).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{file}: input file not found") from None
    except (OSError, ValueError):
        raise UsageError(f"{file}: cannot read a JSON object of {what}") from None
    if not isinstance(data, dict) or not data:
        raise UsageError(f"{file}: must hold a JSON object {{name: value}} of {what}")
    return {str(k).strip(): v for k, v in data.items()}


def _pairs(
    args: argparse.Namespace, text: str | None, default: dict[str, Any], what: str
) -> dict[str, Any]:
    from mpc_runtime.errors import UsageError

    if args.input_file and text:
        raise UsageError(f"give the {what} either inline or with --input-file, not both")
    if args.input_file:
        out = _read_file(args.input_file, what)
    elif text:
        out = {}
        for i, item in enumerate(x.strip() for x in text.split(",") if x.strip()):
            name, sep, value = item.partition("=")
            name = name.strip() if sep else f"p{i + 1}"
            if name.lower() in {k.lower() for k in out}:
                raise UsageError(f"{what}: {name!r} appears twice")
            out[name] = (value if sep else item).strip()
    else:
        out = dict(default)
    if not 2 <= len(out) <= MAX_PARTIES:
        raise UsageError(f"{what}: need between 2 and {MAX_PARTIES} participants, got {len(out)}")
    for name in out:
        if not name or len(name) > MAX_NAME or not name.isprintable():
            raise UsageError(
                f"{what}: participant names must be 1..{MAX_NAME} printable characters"
            )
    return out


def _int(value: Any, what: str, name: str) -> int:
    from mpc_runtime.errors import UsageError

    try:
        return int(str(value).strip(), 10)
    except ValueError:
        raise UsageError(f"{what} of {name} is not an integer") from None


@dataclass
class Demo:
    """One demo run: who takes part, the program, inputs, outputs and declarations."""

    names: list[str]
    program: str
    inputs: list[dict[str, Any]]
    outputs: list[str]
    input_name: str
    bounds: tuple[int, int]
    params: dict[str, Any]

    def spec(self, demo: str) -> dict[str, Any]:
        n = len(self.names)
        everyone = [f"party:{i}" for i in range(1, n + 1)]
        lo, hi = self.bounds
        return {
            "job_id": f"demo-{demo}",
            "program": self.program,
            "params": self.params,
            "inputs": [
                {"party": i, "name": self.input_name, "min": lo, "max": hi} for i in range(1, n + 1)
            ],
            "outputs": [{"name": o, "recipients": everyone} for o in self.outputs],
        }


def _run_cluster(args: argparse.Namespace, demo: Demo) -> list[dict[str, Any]]:
    from mpc_runtime.launcher import LocalCluster

    work = Path(tempfile.mkdtemp(prefix=f"mpc-demo-{args.demo}-"))
    n = len(demo.names)
    dealer = args.preprocessing == "dealer"
    try:
        info(f"demo {args.demo}: making throwaway certificates for {n} parties in {work}")
        cluster = LocalCluster(
            work,
            [f"p{i}" for i in range(1, n + 1)],
            separate_dealer=dealer,
            preprocessing=args.preprocessing,
        )
        with cluster:
            spec = cluster.write_spec(demo.spec(args.demo))
            cluster.start_coordinator(spec)
            if dealer:
                cluster.start_dealer()
            for pid, inp in enumerate(demo.inputs, start=1):
                cluster.start_party(pid, spec, inp, extra=["--json"])
            extra = " and a dealer" if dealer else ""
            info(
                f"demo {args.demo}: started a coordinator{extra} and {n} party processes"
                f" ({', '.join(demo.names)}) on 127.0.0.1 over mutually authenticated TLS 1.3"
            )
            codes = cluster.wait(args.timeout)
            if any(c != 0 for c in codes.values()):
                raise demo_failure(cluster, codes, demo.names)
            return [
                json.loads([x for x in p.stdout.splitlines() if x.startswith("{")][-1])
                for p in cluster.procs
                if p.label.startswith("party:")
            ]
    finally:
        if args.keep:
            info(f"demo {args.demo}: work directory kept at {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _agreed(reports: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    from mpc_runtime.errors import MPCError

    first = reports[0]["outputs"]
    for name, rep in zip(names, reports, strict=True):
        if rep["outputs"] != first:
            raise MPCError(f"demo: {name} learned something different from {names[0]}")
    return dict(first)


def _cost(reports: list[dict[str, Any]], preprocessing: str) -> None:
    on = [r["ledger"]["online"]["total"] for r in reports]
    off = [r["ledger"]["offline"]["total"] for r in reports]
    rounds = max(int(o["rounds"]) for o in on)
    sent = max(int(o["bytes_sent"]) for o in on)
    pre = max(int(o["bytes_received"]) for o in off)
    source = "from the dealer" if preprocessing == "dealer" else "from the other parties (OT)"
    needed = f"at most {plural(pre, 'byte')} received {source}" if pre else "none needed"
    result(
        f"cost per party: {plural(rounds, 'online round')}, at most {plural(sent, 'byte')} sent;"
        f" preprocessing: {needed}"
    )


def run(args: argparse.Namespace) -> int:
    from mpc_runtime.errors import UsageError

    if not 0 < args.timeout <= 3600:
        raise UsageError("--timeout must be a positive number of seconds (at most 3600)")
    from mpc_runtime.cli import demo_contrib

    if args.demo == "vote" and args.voters is not None:
        return demo_contrib.run_vote(args)
    if args.demo == "auction" and args.bidders is not None:
        return demo_contrib.run_auction(args)
    handler = {
        "salary": _salary,
        "vote": _vote,
        "referendum": _referendum,
        "auction": _auction,
        "fl": demo_contrib.run_fl,
        "poll": demo_dp.run_poll,
        "approval": demo_dp.run_approval,
    }
    return handler[args.demo](args)


def _salary(args: argparse.Namespace) -> int:
    raw = _pairs(args, args.raises, DEFAULT_RAISES, "raises")
    names = list(raw)
    if args.epsilon is not None:
        raises = [_int(v, "the raise", k) for k, v in raw.items()]
        return demo_dp.run_salary_dp(args, names, raises)
    demo = Demo(
        names,
        "protocols.apps:average_job",
        [{"value": _int(v, "the raise", k)} for k, v in raw.items()],
        ["average"],
        "value",
        RAISE_BOUNDS,
        {},
    )
    reports = _run_cluster(args, demo)
    out = _agreed(reports, names)
    n = len(names)
    result(f"every engineer ({', '.join(names)}) learned: average raise = {plain(out['average'])}")
    if n == 2:
        result(
            "what each can infer: with two engineers, each can compute the other's raise"
            " (2 x average - own raise); nobody else learned anything"
        )
    else:
        result(
            f"what each can infer: the total of the other {n - 1} raises (n x average - own);"
            f" no single raise, unless {n - 1} engineers pool their raises"
        )
    _cost(reports, args.preprocessing)
    return 0


def _vote(args: argparse.Namespace) -> int:
    from mpc_runtime.errors import UsageError

    options = [o.strip() for o in args.options.split(",") if o.strip()]
    if len(options) < 2 or len(set(options)) != len(options):
        raise UsageError("--options needs at least two distinct options")
    raw = _pairs(args, args.votes, DEFAULT_VOTES, "votes")
    names = list(raw)
    choices = []
    for k, v in raw.items():
        if str(v) not in options:
            raise UsageError(f"the vote of {k} is not one of the options {', '.join(options)}")
        choices.append(options.index(str(v)))
    demo = Demo(
        names,
        "protocols.apps:vote_job",
        [{"choice": c} for c in choices],
        ["tally"],
        "choice",
        (0, len(options) - 1),
        {"options": options},
    )
    reports = _run_cluster(args, demo)
    tally = [int(c) for c in _agreed(reports, names)["tally"]]
    n = len(names)
    result(
        f"tally ({plural(n, 'secret ballot')}): "
        + ", ".join(f"{o}={c}" for o, c in zip(options, tally, strict=True))
    )
    if max(tally) == n:
        result(
            "what each can infer: the vote was unanimous, so every ballot is known from the tally"
        )
    else:
        result(
            "what each can infer: only the counts per option; no ballot is known unless the"
            " counts force it (a unanimous result would)"
        )
    _cost(reports, args.preprocessing)
    return 0


def _referendum(args: argparse.Namespace) -> int:
    from mpc_runtime.errors import MPCError, UsageError

    raw = _pairs(args, args.votes, DEFAULT_BALLOT, "votes")
    names = list(raw)
    votes = []
    for k, v in raw.items():
        text = str(v).strip().lower()
        if text not in ("yes", "no", "1", "0", "true", "false"):
            raise UsageError(f"the vote of {k} must be yes or no")
        votes.append(1 if text in ("yes", "1", "true") else 0)
    demo = Demo(
        names,
        "protocols.apps:referendum_job",
        [{"vote": v} for v in votes],
        ["outcome"],
        "vote",
        (0, 1),
        {},
    )
    reports = _run_cluster(args, demo)
    out = _agreed(reports, names)
    if set(out) != {"outcome"}:
        raise MPCError("the referendum revealed more than its outcome")
    result(f"referendum outcome: {'YES' if int(out['outcome']) else 'NO'}")
    n = len(names)
    if n <= 3:
        result(
            f"what each can infer: with {n} voters, a voter on the losing side learns that every"
            " other voter voted the other way; the counts were not revealed"
        )
    else:
        result("what each can infer: only that at least half voted yes (or not); no counts")
    _cost(reports, args.preprocessing)
    return 0


def _auction(args: argparse.Namespace) -> int:
    from mpc_runtime.errors import UsageError

    raw = _pairs(args, args.bids, DEFAULT_BIDS, "bids")
    names = list(raw)
    bids = [_int(v, "the bid", k) for k, v in raw.items()]
    if min(bids) < 0:
        raise UsageError("bids must be non-negative integers")
    outs = ["winner", "price"] if args.second_price else ["winner", "winning_bid"]
    demo = Demo(
        names,
        "protocols.apps:auction_job",
        [{"bid": b} for b in bids],
        outs,
        "bid",
        BID_BOUNDS,
        {"second_price": bool(args.second_price)},
    )
    reports = _run_cluster(args, demo)
    out = _agreed(reports, names)
    winner = int(out["winner"])
    who = names[winner - 1] if 1 <= winner <= len(names) else f"party {winner}"
    if args.second_price:
        result(f"winner: {who}, pays the second-highest bid = {plain(out['price'])}")
        if len(names) == 2:
            result(
                "what each can infer: with two bidders the price is the losing bid, so it is known"
            )
        else:
            result(
                "what each can infer: the price is the second-highest bid, so that bidder's bid is"
                " known; the other losing bids stayed hidden"
            )
    else:
        result(f"winner: {who}, winning bid = {plain(out['winning_bid'])}")
        result("what each can infer: losing bids stayed hidden; each is known to be lower")
    _cost(reports, args.preprocessing)
    return 0
