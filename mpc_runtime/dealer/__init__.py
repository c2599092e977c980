"""The dealer process (``mpc dealer``): a separate identity that serves preprocessing material.

May import: config, errors, ids, deadline, jobs, preprocessing.dealer, runtime.session (abort
helpers), transport, wire.  Never another process package or the CLI.
"""
