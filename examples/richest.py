"""Example script for ``mpc run``: the largest value, and whether party 1 beats party 2.

Every party runs this same file with its own private ``--input``; nothing else is revealed.

    mpc coordinator --config party_configs/local-3.toml          # terminal 1
    mpc run examples/richest.py:main --config party_configs/local-3.toml --id 1 --input 120
    mpc run examples/richest.py:main --config party_configs/local-3.toml --id 2 --input 250
    mpc run examples/richest.py:main --config party_configs/local-3.toml --id 3 --input 180
"""

from protocols.compare import gt
from protocols.io import share_declared
from protocols.select import maximum
from protocols.types import stack

# Every party gives one private integer "value" between 0 and a million: the bounds are public,
# checked by each party on its own input, and carried through the computation.
INPUTS = {"value": {"parties": "all", "min": 0, "max": 1_000_000}}

# Who may learn which output: "all" parties, or a list such as ["party:1", "recipient:analyst"].
OUTPUTS = {"largest": "all", "one_beats_two": ["party:1", "party:2"]}


async def main(ctx):  # type: ignore[no-untyped-def]
    shares = await share_declared(ctx, "value")  # 1 round
    values = stack([shares[p] for p in ctx.parties])
    largest = await maximum(ctx, values)  # 9 rounds per tournament level
    beats = await gt(ctx, shares[1], shares[2])  # 8 rounds
    await ctx.reveal("largest", largest)
    await ctx.reveal("one_beats_two", beats)
