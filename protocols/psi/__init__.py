"""Private set intersection: circuit PSI on shares for n parties, and 2-party DH PSI.

* :mod:`protocols.psi.hashing` - identifiers to 62-bit keys, local sorting and padding.
* :mod:`protocols.psi.circuit` - merge, runs, cardinality, payload sums, the intersection.
* :mod:`protocols.psi.dh` - Diffie-Hellman PSI over X25519 for two large sets.
* :mod:`protocols.psi.jobs` - the job programs.

May import: what its modules document.
"""
