"""The coordinator layer: job specs and their hashes, the reveal policy's sealed relay, the audit
log, the dealer service, and the coordinator / dealer / recipient processes.

The coordinator runs jobs but never holds an input, a share in the clear or an output value: it
only forwards blobs sealed end to end to an external recipient.  Submodules are imported on
demand (``from mpc_runtime.coordinator.spec import JobSpec``); nothing runs at import time.

May import: runtime, transport, wire, sharing, preprocessing, config, pki, errors, ids.
"""
