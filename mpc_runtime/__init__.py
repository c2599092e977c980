"""mpc-runtime: a networked multi-party computation runtime over asyncio.

Parties hold additive secret shares over the ring Z_2^64 and exchange them over mutually
authenticated TLS 1.3.  Nothing runs at import time: there is no global runtime object.

One setting is made at import: BLAS libraries use one thread unless the environment says
otherwise (``OPENBLAS_NUM_THREADS`` and friends).  Each party is its own process, usually several
on one host; multithreaded BLAS under that oversubscription was measured 300 times slower (a
16 x 10^5 by 10^5 x 48 product: 3.3 s against 0.01 s with one thread).  It takes effect only if
numpy is imported after this package.
"""

import os as _os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
