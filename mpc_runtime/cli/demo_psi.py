"""``mpc demo psi``: private set intersection between parties, run as real processes over TLS.

``register(dsub)`` adds the ``psi`` sub-parser to ``mpc demo``'s sub-parsers and ``run(args)``
runs it: throwaway certificates, a coordinator and one party process per participant on
loopback (and a dealer with ``--preprocessing dealer``), through
:class:`mpc_runtime.launcher.LocalCluster`, like the other demos.  The sets are public test data
drawn from the AES-CTR PRG keyed by a hash of ``--seed`` (so the demo can check every output
against the plaintext computation): integer customer numbers, a fraction ``--overlap`` of them
held by every party; with ``--payload`` the last party attaches an amount to each.

Printed: one line per party of what it learned, whether it matches the plaintext, what each can
infer, the wall time and the cost (rounds, bytes online, preprocessing bytes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpc_runtime.cli.output import add_demo_options, demo_failure, info, plural, result

DESCRIPTION = """\
Private set intersection of customer lists, as separate processes over mutually authenticated
TLS 1.3.

  --method circuit  n >= 2 parties, on secret shares: cardinality, and with --payload the sum
                    of the last party's amounts over the common customers (intersection-sum);
                    --intersection also reveals the common customers to party 1
  --method dh       2 parties, Diffie-Hellman over X25519: party 1 computes the cardinality
                    (and with --intersection the common customers, revealed to party 1)

Every party's set is checked by its own process before anything is shared; nobody learns more
than the outputs named above (and the public set sizes).
"""

MAX_PARTIES = 8
MAX_SIZE = 1 << 21
AMOUNT_MAX = 1000
ID_SPACE = 1 << 60


def register(dsub: Any) -> None:
    """Add ``mpc demo psi`` to the demo sub-parsers."""
    p = dsub.add_parser(
        "psi",
        help="private set intersection (cardinality, intersection-sum, intersection)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--size", type=int, default=4096, help="identifiers per party (default 4096)")
    p.add_argument("--parties", type=int, default=2, help="number of parties (default 2)")
    p.add_argument("--payload", action="store_true", help="the last party attaches amounts")
    p.add_argument("--method", choices=("circuit", "dh"), default="circuit", help="protocol")
    p.add_argument(
        "--intersection", action="store_true", help="also reveal the common identifiers to party 1"
    )
    p.add_argument(
        "--overlap", type=float, default=0.25, help="fraction of identifiers every party holds"
    )
    p.add_argument("--seed", default="psi-demo", help="public seed of the test data")
    p.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    add_demo_options(p)
    p.set_defaults(func=run)


@dataclass
class Data:
    """The demo's public test data and what the plaintext computation gives."""

    sets: list[list[int]]
    amounts: list[int] | None
    common: list[int]
    amount_sum: int


def _words(seed: str, what: str, count: int) -> list[int]:
    from mpc_runtime.sharing.prg import PRG, SEED_BYTES

    key = hashlib.sha256(f"mpc-demo-psi/{seed}/{what}".encode()).digest()[:SEED_BYTES]
    return [int(w) % ID_SPACE for w in PRG(key).uint64((count,)).tolist()]


def make_data(seed: str, parties: int, size: int, overlap: float, payload: bool) -> Data:
    """Every party's identifiers (public test data) and the plaintext results."""
    shared = _words(seed, "common", int(size * overlap))
    sets = [shared + _words(seed, f"own/{p}", size - len(shared)) for p in range(1, parties + 1)]
    common = sorted(set.intersection(*(set(s) for s in sets)))
    amounts = None
    total = 0
    if payload:
        amounts = [w % (AMOUNT_MAX + 1) for w in _words(seed, "amounts", size)]
        by_id = dict(zip(sets[-1], amounts, strict=True))
        total = sum(by_id[c] for c in common)
    return Data(sets, amounts, common, total)


def _check_args(args: argparse.Namespace) -> None:
    from mpc_runtime.errors import UsageError

    if not 2 <= args.parties <= MAX_PARTIES:
        raise UsageError(f"--parties must be between 2 and {MAX_PARTIES}")
    if args.method == "dh" and args.parties != 2:
        raise UsageError("--method dh runs between exactly 2 parties")
    if args.method == "dh" and args.payload:
        raise UsageError("--payload needs --method circuit")
    if not 1 <= args.size <= MAX_SIZE:
        raise UsageError(f"--size must be between 1 and {MAX_SIZE}")
    if not 0 <= args.overlap <= 1:
        raise UsageError("--overlap must be between 0 and 1")
    if not 0 < args.timeout <= 7200:
        raise UsageError("--timeout must be a positive number of seconds (at most 7200)")


def outputs_of(args: argparse.Namespace) -> list[str]:
    """The outputs this demo reveals, in order."""
    outs = ["cardinality"]
    if args.payload:
        outs.append("payload_sum")
    if args.intersection:
        outs.append("intersection")
    return outs


def job_spec(args: argparse.Namespace, salt: str) -> dict[str, Any]:
    """The job spec: one ``ids`` input per party (and ``payload`` for the last one)."""
    n, outs = args.parties, outputs_of(args)
    everyone = [f"party:{i}" for i in range(1, n + 1)]
    inputs: list[dict[str, Any]] = [
        {"party": i, "name": "ids", "shape": [args.size], "min": -1, "max": 2**62 - 1}
        for i in range(1, n + 1)
    ]
    if args.payload:
        inputs.append(
            {"party": n, "name": "payload", "shape": [args.size], "min": 0, "max": AMOUNT_MAX}
        )
    params: dict[str, Any] = {"salt": salt, "outputs": outs}
    if args.method == "dh":
        params["receiver"] = 1
    program = "circuit_psi_job" if args.method == "circuit" else "dh_psi_job"
    return {
        "job_id": f"demo-psi-{args.method}",
        "program": f"protocols.psi.jobs:{program}",
        "params": params,
        "inputs": inputs,
        "outputs": [
            {"name": o, "recipients": ["party:1"] if o == "intersection" else everyone}
            for o in outs
        ],
    }


def run_cluster(
    args: argparse.Namespace, spec: dict[str, Any], data: Data
) -> tuple[list[dict[str, Any]], float]:
    from mpc_runtime.launcher import LocalCluster

    work = Path(tempfile.mkdtemp(prefix="mpc-demo-psi-"))
    n, dealer = args.parties, args.preprocessing == "dealer"
    try:
        info(f"demo psi: making throwaway certificates for {n} parties in {work}")
        cluster = LocalCluster(
            work,
            [f"p{i}" for i in range(1, n + 1)],
            separate_dealer=dealer,
            preprocessing=args.preprocessing,
            round_timeout=60.0,
        )
        with cluster:
            path = cluster.write_spec(spec)
            started = time.perf_counter()
            cluster.start_coordinator(path)
            if dealer:
                cluster.start_dealer()
            for pid in range(1, n + 1):
                inp: dict[str, Any] = {"ids": data.sets[pid - 1]}
                if args.payload and pid == n:
                    inp["payload"] = data.amounts
                cluster.start_party(pid, path, inp, extra=["--json"])
            info(
                f"demo psi: started a coordinator{' and a dealer' if dealer else ''} and {n}"
                f" party processes on 127.0.0.1 over mutually authenticated TLS 1.3"
            )
            codes = cluster.wait(args.timeout)
            elapsed = time.perf_counter() - started
            if any(c != 0 for c in codes.values()):
                raise demo_failure(cluster, codes)
            reports = [
                json.loads([x for x in p.stdout.splitlines() if x.startswith("{")][-1])
                for p in cluster.procs
                if p.label.startswith("party:")
            ]
            return reports, elapsed
    finally:
        if args.keep:
            info(f"demo psi: work directory kept at {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _learned(outputs: dict[str, Any], by_key: dict[int, int]) -> str:
    parts = []
    for name in ("cardinality", "payload_sum"):
        if name in outputs:
            parts.append(f"{name} = {outputs[name]}")
    if "intersection" in outputs:
        ids = [by_key[k - 1] for k in outputs["intersection"] if k and k - 1 in by_key]
        sample = ", ".join(str(x) for x in sorted(ids)[:3])
        more = ", ..." if len(ids) > 3 else ""
        parts.append(f"intersection = {plural(len(ids), 'identifier')} ({sample}{more})")
    return "; ".join(parts) if parts else "nothing"


def verify(reports: list[dict[str, Any]], data: Data, expected_keys: list[int]) -> bool:
    for rep in reports:
        out = rep["outputs"]
        if "cardinality" in out and int(out["cardinality"]) != len(data.common):
            return False
        if "payload_sum" in out and int(out["payload_sum"]) != data.amount_sum:
            return False
        if "intersection" in out:
            got = [int(k) for k in out["intersection"] if int(k)]
            if got != expected_keys:
                return False
    return True


def _inference(args: argparse.Namespace) -> str:
    """What the participants can infer, for this method and these outputs."""
    which = (
        "party 1 learned which identifiers are common; the others did not"
        if args.intersection
        else "nobody learned which identifiers are common"
    )
    if args.method == "dh":
        return (
            "what each can infer: party 1 computed the outputs itself, party 2 learned only the"
            f" cardinality and the public set sizes; {which}"
        )
    extra = ", the total amount of the common identifiers" if args.payload else ""
    return (
        f"what each can infer: the number of common identifiers{extra} and the public set"
        f" sizes; {which}"
    )


def _cost(reports: list[dict[str, Any]], preprocessing: str) -> str:
    on = [r["ledger"]["online"]["total"] for r in reports]
    off = [r["ledger"]["offline"]["total"] for r in reports]
    rounds = max(int(o["rounds"]) for o in on)
    sent = max(int(o["bytes_sent"]) for o in on)
    pre = max(int(o["bytes_sent"]) + int(o["bytes_received"]) for o in off)
    source = "from the dealer" if preprocessing == "dealer" else "made by the parties (OT)"
    return (
        f"cost per party: {plural(rounds, 'online round')}, at most {sent / 1e6:.1f} MB sent"
        f" online; preprocessing {source}: at most {pre / 1e6:.1f} MB sent and received"
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 if every output matched the plaintext computation."""
    from mpc_runtime.errors import MPCError
    from protocols.psi.hashing import hash_identifiers

    _check_args(args)
    data = make_data(args.seed, args.parties, args.size, args.overlap, args.payload)
    salt = secrets.token_hex(8)
    spec = job_spec(args, salt)
    keys = [int(k) for k in hash_identifiers(data.sets[0], salt)]
    by_key = dict(zip(keys, data.sets[0], strict=True))
    expected = sorted(int(k) + 1 for k in hash_identifiers(data.common, salt))
    reports, elapsed = run_cluster(args, spec, data)
    for rep in sorted(reports, key=lambda r: int(r["party"])):
        result(
            f"p{rep['party']} (party {rep['party']}) learned: {_learned(rep['outputs'], by_key)}"
        )
    ok = verify(reports, data, expected)
    result(
        "every output matches the plaintext computation"
        if ok
        else "MISMATCH: an output differs from the plaintext computation"
    )
    result(_inference(args))
    result(
        f"time: {elapsed:.1f} s for {args.parties} x {args.size} identifiers ({args.method},"
        f" preprocessing {args.preprocessing})"
    )
    result(_cost(reports, args.preprocessing))
    if not ok:
        raise MPCError("the demo's outputs differ from the plaintext computation")
    return 0
