"""Processes: the party node and the client side of the control protocol.

A party process joins the coordinator, checks the job spec hash, builds the TLS mesh with the
other parties, runs the job's program in a session and reports how it went.
"""
