"""Protocols built on the runtime's public context: sum, average, multiply, compare, select, apps.

Every protocol takes the :class:`~mpc_runtime.runtime.Context` explicitly as its first argument,
opens its own scope before its first await (deterministic op paths), and works on whole arrays.

May import: ``mpc_runtime.runtime`` (Context, ArraySpec), ``mpc_runtime.sharing``,
``mpc_runtime.errors``; never ``transport`` or ``wire``.
"""
