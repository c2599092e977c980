"""The ``mpc`` command line: argument parsing and printing only, no protocol logic.

Each command lives in ``cmd_<name>.py`` and exposes ``register(sub)``; :mod:`.main` lists them.
"""
