"""The external recipient process (``mpc recipient``): receives sealed output shares of a job
through the coordinator and opens them with its own key.

May import: config, errors, ids, deadline, jobs, pki, runtime.reveal (decoding), transport, wire.
"""
