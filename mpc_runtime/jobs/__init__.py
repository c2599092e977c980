"""What the processes share about a job: the job spec and its hash, sealing of output shares to
external recipients, the party-side sealed relay, and the audit log.

The typed control messages the processes exchange are in :mod:`mpc_runtime.wire.control`.  The
coordinator, dealer, party node, recipient and contributor processes import this package and never
each other.

May import: config, pki, errors, ids, wire, runtime (public types only), sharing.
"""
