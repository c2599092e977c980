"""The sharing layer: pure numpy arithmetic on secret shares.

Submodules: :mod:`.ring` (Z_2^64, integer and fixed-point encodings), :mod:`.prg` (AES-CTR
CSPRNG), :mod:`.additive` (additive and XOR sharing), :mod:`.beaver` (Beaver triple algebra),
:mod:`.shared` (a party's share with public bounds), :mod:`.samplers` (exact integer noise
samplers for differential privacy, and per-party shares of distributed noise).

May import: numpy, ``cryptography`` and ``mpc_runtime.errors`` only; never asyncio, ssl or
socket.  Nothing runs at import time.
"""
