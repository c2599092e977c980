"""``mpc demo psi`` as real processes over TLS: right results, one line per party, clear refusals.

The demo is driven through its own ``register``/``run`` pair (what ``mpc demo`` wires in).
"""

from __future__ import annotations

import argparse

import pytest

from mpc_runtime.cli import demo_psi
from mpc_runtime.errors import UsageError


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mpc demo")
    demo_psi.register(parser.add_subparsers(dest="demo"))
    return parser.parse_args(["psi", *argv])


def test_circuit_with_payloads_and_the_intersection(capsys: pytest.CaptureFixture[str]) -> None:
    args = _args("--size", "64", "--payload", "--intersection", "--timeout", "120")
    assert args.func(args) == 0
    out = capsys.readouterr().out
    data = demo_psi.make_data("psi-demo", 2, 64, 0.25, True)
    assert f"p1 (party 1) learned: cardinality = {len(data.common)};" in out
    assert f"payload_sum = {data.amount_sum}; intersection = 16 identifiers" in out
    assert f"p2 (party 2) learned: cardinality = {len(data.common)}; payload_sum" in out
    assert "p2 (party 2) learned: cardinality = 16; payload_sum = " in out
    assert "every output matches the plaintext computation" in out
    assert "online rounds" in out and "time: " in out


def test_three_parties_with_a_dealer(capsys: pytest.CaptureFixture[str]) -> None:
    args = _args("--size", "40", "--parties", "3", "--preprocessing", "dealer", "--overlap", "0.5")
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert out.count("learned: cardinality = 20") == 3
    assert "from the dealer" in out


def test_dh_reveals_the_intersection_to_party_1_only(capsys: pytest.CaptureFixture[str]) -> None:
    args = _args("--size", "300", "--method", "dh", "--intersection")
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "p1 (party 1) learned: cardinality = 75; intersection = 75 identifiers" in out
    assert "p2 (party 2) learned: cardinality = 75\n" in out
    assert "every output matches" in out


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (("--method", "dh", "--parties", "3"), "exactly 2"),
        (("--method", "dh", "--payload"), "--payload"),
        (("--size", "0"), "--size"),
        (("--overlap", "2"), "--overlap"),
        (("--parties", "1"), "--parties"),
    ],
)
def test_usage_errors(argv: tuple[str, ...], text: str) -> None:
    args = _args(*argv)
    with pytest.raises(UsageError, match=text):
        args.func(args)
