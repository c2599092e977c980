"""``mpc budget show``: what each recipient has been told about each dataset, from a party's
privacy ledger, against the budgets in the cluster file.  The ledger's hash chain is checked as
it is read; a broken chain is an error naming the file.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "budget",
        help="show the differential-privacy budgets spent and remaining",
        description="Read a party's append-only privacy ledger and print, per dataset and "
        "recipient, the epsilon (and delta) spent and what remains of the cluster's budget.",
    )
    bsub = p.add_subparsers(dest="budget_command", metavar="<command>", required=True)
    show = bsub.add_parser("show", help="spent and remaining budget per dataset and recipient")
    show.add_argument("--config", required=True, help="cluster TOML file")
    show.add_argument(
        "--id", type=int, dest="party_id", help="the party whose ledger (default: every party's)"
    )
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(func=run)


def _rows(cfg: Any, party: int) -> list[dict[str, Any]]:
    from mpc_runtime.node.budget import Ledger, ledger_path

    entries = Ledger(ledger_path(cfg, party)).entries()
    rows = []
    datasets = {b.dataset for b in cfg.privacy.budgets} | {
        e["dataset"] for e in entries if "dataset" in e
    }
    for dataset in sorted(datasets):
        budget = cfg.privacy.budget(dataset)
        spent = Ledger.spent(entries, dataset)
        jobs = {
            e["job"] for e in entries if e.get("dataset") == dataset and e.get("kind") == "charge"
        }
        for recipient, (eps, delta) in sorted(spent.items()) or [("(nobody yet)", (0.0, 0.0))]:
            rows.append({
                "party": party, "dataset": dataset, "recipient": recipient,
                "epsilon_spent": eps, "delta_spent": delta,
                "epsilon_budget": budget.epsilon if budget else None,
                "epsilon_remaining": max(0.0, budget.epsilon - eps) if budget else None,
                "jobs": len(jobs),
            })  # fmt: skip
    return rows


def run(args: argparse.Namespace) -> int:
    from mpc_runtime.cli.output import info, result
    from mpc_runtime.config import load_cluster

    cfg = load_cluster(args.config)
    parties = [args.party_id] if args.party_id is not None else list(cfg.party_ids)
    for p in parties:
        cfg.party(p)
    rows = [r for p in parties for r in _rows(cfg, p)]
    if args.json:
        result(json.dumps({"ledger_dir": str(cfg.privacy.ledger_dir), "rows": rows}))
        return 0
    if not rows:
        info(f"no privacy budgets and no ledger entries (ledger_dir {cfg.privacy.ledger_dir})")
        return 0
    head = f"{'party':>5}  {'dataset':<16} {'recipient':<22} {'spent':>9} {'budget':>9}"
    result(f"{head} {'remains':>9}  jobs")
    for r in rows:
        budget = f"{r['epsilon_budget']:g}" if r["epsilon_budget"] is not None else "-"
        remains = f"{r['epsilon_remaining']:g}" if r["epsilon_remaining"] is not None else "-"
        result(
            f"{r['party']:>5}  {r['dataset']:<16} {r['recipient']:<22}"
            f" {r['epsilon_spent']:>9.4g} {budget:>9} {remains:>9}  {r['jobs']}"
        )
    return 0
