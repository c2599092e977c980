"""The party process: joins the coordinator, checks the job spec hash, builds the TLS mesh with
the other parties, runs the job's program in a session and reports how it went.

May import: config, errors, ids, deadline, jobs, preprocessing, runtime, transport, wire.  Never
another process package or the CLI.
"""
