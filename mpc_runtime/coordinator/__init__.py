"""The coordinator process: admits a job's participants, checks they hold the same spec, starts
the job, relays sealed outputs, and stops everyone (naming the culprit) if anything fails.

May import: config, errors, ids, deadline, jobs, preprocessing.dealer (only when it embeds the
dealer by explicit opt-in), transport, wire.  Never another process package or the CLI.
"""
