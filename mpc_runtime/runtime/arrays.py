"""What an incoming array must look like: dtype and shape, checked before use.

May import: numpy, :mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mpc_runtime.errors import RemoteProtocolError

__all__ = ["ArraySpec"]


class ArraySpec:
    """The dtype and shape an array received from a peer must have."""

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype: Any, shape: Sequence[int]) -> None:
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(s) for s in shape)

    @classmethod
    def like(cls, arr: np.ndarray[Any, Any]) -> ArraySpec:
        return cls(arr.dtype, arr.shape)

    def check(self, value: Any, sender: str, path: str, rnd: int) -> np.ndarray[Any, Any]:
        """``value`` if it is such an array, else RemoteProtocolError blaming ``sender``."""
        if not isinstance(value, np.ndarray):
            raise RemoteProtocolError(
                f"{sender} sent {type(value).__name__} where an array was expected",
                peer=sender,
                culprit=sender,
                op_path=path,
                round=rnd,
            )
        if value.dtype != self.dtype or value.shape != self.shape:
            raise RemoteProtocolError(
                f"{sender} sent a {value.dtype} array of shape {value.shape}, expected"
                f" {self.dtype} of shape {self.shape}",
                peer=sender,
                culprit=sender,
                op_path=path,
                round=rnd,
            )
        return value
