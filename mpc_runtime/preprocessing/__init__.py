"""Preprocessing: the dealer's bookkeeping, the in-process dealer, and the dealer's wire format.

The dealer generates seeded material with :mod:`mpc_runtime.sharing.dealer`; every party but the
first receives only a PRG seed per request, the first party also receives corrections.
"""
