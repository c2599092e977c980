"""The control operations of serving clusters: round trips and the job-level abort.

May import: pytest, the standard library, :mod:`mpc_runtime.wire` and :mod:`mpc_runtime.errors`.
"""

from __future__ import annotations

from typing import Any

import pytest

from mpc_runtime.errors import DecodeError
from mpc_runtime.wire import decode_body, encode_body
from mpc_runtime.wire.control import (
    REASON_CHARS,
    Abort,
    Agree,
    ControlOp,
    JobAbort,
    JobBye,
    Mesh,
    Offer,
    Ready,
    Serve,
    Submit,
    decode_op,
    encode_op,
)

SAMPLES: list[ControlOp] = [
    Serve(),
    Mesh(session="0123abcd"),
    Ready(session="0123abcd"),
    Submit(spec_hash="ab" * 32, spec={"job_id": "j", "inputs": [{"party": 1}]}, nonce=b"n" * 16),
    Offer(spec_hash="ab" * 32, spec={"job_id": "j"}, nonces={"recipient:a": b"n" * 16}),
    Agree(spec_hash="ab" * 32),
    JobBye(),
    JobAbort(code="InputError", reason="party:2 refused its own input", culprit="party:2"),
    JobAbort(code="x", reason="y", culprit=None, op_path="main/a#0", round=3),
]


def through_codec(body: dict[str, Any]) -> Any:
    return decode_body(b"".join(encode_body(body)))


@pytest.mark.parametrize("op", SAMPLES, ids=lambda o: type(o).__name__)
def test_serving_operations_round_trip(op: ControlOp) -> None:
    body = encode_op(op)
    assert decode_op(through_codec(body)) == op


def test_job_abort_carries_an_abort_and_shortens_its_reason() -> None:
    abort = Abort("ProgramError", "party:1 failed\nat main " + "x" * 1000, "party:1", "main", 2)
    op = JobAbort.of(abort)
    assert "\n" not in op.reason and len(op.reason) <= REASON_CHARS
    back = decode_op(through_codec(encode_op(op)))
    assert isinstance(back, JobAbort)
    assert back.abort() == Abort("ProgramError", op.reason, "party:1", "main", 2)


def test_a_submit_without_its_spec_is_refused() -> None:
    with pytest.raises(DecodeError):
        decode_op({"op": "submit", "spec_hash": "ab"})
    with pytest.raises(DecodeError):
        decode_op({"op": "mesh", "session": 7})


def test_reprs_hide_nonces() -> None:
    assert "nnnn" not in repr(Submit("h", {}, b"n" * 16))
    assert "nnnn" not in repr(Offer("h", {}, {"recipient:a": b"n" * 16}))
