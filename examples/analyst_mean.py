"""Example script for ``mpc run`` with an external recipient and a party without input.

Parties 1 and 2 each hold a vector of fixed-point measurements; party 3 holds no data but helps
compute (it is one of the independent organisations that run the computation).  Only the external
analyst learns the element-wise mean; the three parties learn nothing.

    mpc coordinator --config party_configs/local-3.toml
    mpc recipient --program examples/analyst_mean.py:main --config party_configs/local-3.toml \\
        --name analyst
    mpc run examples/analyst_mean.py:main --config party_configs/local-3.toml --id 1 \\
        --input "[1.5, 2.25, -3.0]"
    mpc run examples/analyst_mean.py:main --config party_configs/local-3.toml --id 2 \\
        --input "[0.5, 1.75, 4.0]"
    mpc run examples/analyst_mean.py:main --config party_configs/local-3.toml --id 3
"""

from protocols.arith import secure_sum
from protocols.io import share_declared

INPUTS = {
    "value": {"parties": [1, 2], "kind": "fixed", "shape": [3], "min": -1000.0, "max": 1000.0}
}
OUTPUTS = {"mean": ["recipient:analyst"]}


async def main(ctx):  # type: ignore[no-untyped-def]
    shares = await share_declared(ctx, "value")
    await ctx.reveal("mean", secure_sum(ctx, shares), divisor=len(shares))
