"""Job specs: validation, canonical hashing, loading with one-line errors, cluster checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mpc_runtime.errors import ConfigError
from mpc_runtime.ids import Identity
from mpc_runtime.jobs.spec import (
    JobSpec,
    check_against_cluster,
    load_spec,
    spec_hash,
)

SPEC = {
    "job_id": "avg-1",
    "program": "protocols.jobs:average",
    "params": {"scale": 2, "tag": "x", "nested": {"b": [1, 2.5], "a": None}},
    "inputs": [
        {"party": 1, "name": "salary", "kind": "fixed", "frac_bits": 16},
        {"party": 2, "name": "salary", "kind": "fixed"},
    ],
    "outputs": [{"name": "mean", "recipients": ["party:1", "recipient:analyst"]}],
}

TOML = """\
job_id = "avg-1"
program = "protocols.jobs:average"

[params]
scale = 2
tag = "x"
nested = { b = [1, 2.5], a = "none" }

[[inputs]]
party = 1
name = "salary"
kind = "fixed"

[[outputs]]
name = "mean"
recipients = ["recipient:analyst"]
"""


def test_hash_is_stable_and_hex() -> None:
    h = spec_hash(JobSpec.model_validate(SPEC))
    assert h == spec_hash(JobSpec.model_validate(json.loads(json.dumps(SPEC))))
    assert len(h) == 64 and int(h, 16) >= 0


def test_hash_independent_of_field_order() -> None:
    reordered = {k: SPEC[k] for k in reversed(list(SPEC))}
    reordered["params"] = {"nested": {"a": None, "b": [1, 2.5]}, "tag": "x", "scale": 2}
    assert spec_hash(JobSpec.model_validate(reordered)) == spec_hash(JobSpec.model_validate(SPEC))


def test_hash_detects_any_change() -> None:
    base = spec_hash(JobSpec.model_validate(SPEC))
    changed = json.loads(json.dumps(SPEC))
    changed["outputs"][0]["recipients"] = ["party:1"]
    assert spec_hash(JobSpec.model_validate(changed)) != base
    changed = json.loads(json.dumps(SPEC))
    changed["params"]["scale"] = 3
    assert spec_hash(JobSpec.model_validate(changed)) != base


def test_defaults_are_part_of_the_hash() -> None:
    explicit = json.loads(json.dumps(SPEC))
    explicit["inputs"][1]["frac_bits"] = 16
    explicit["inputs"][1]["shape"] = []
    explicit["dealer_budget"] = None
    assert spec_hash(JobSpec.model_validate(explicit)) == spec_hash(JobSpec.model_validate(SPEC))


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"job_id": "bad id!"}, "job_id"),
        ({"program": "no_colon"}, "program"),
        ({"extra": 1}, "extra"),
        ({"outputs": [{"name": "m", "recipients": []}]}, "outputs.0.recipients"),
        ({"outputs": [{"name": "m", "recipients": ["party:1", "party:1"]}]}, "outputs.0"),
        ({"outputs": [{"name": "m", "recipients": ["coordinator"]}]}, "outputs.0"),
        ({"outputs": [{"name": "m", "recipients": ["friend"]}]}, "outputs.0"),
        ({"params": {"x": float("nan")}}, "params"),
        ({"inputs": [{"party": 1, "name": "a", "kind": "complex"}]}, "inputs.0.kind"),
        ({"dealer_budget": 0}, "dealer_budget"),
    ],
)
def test_bad_specs_give_one_line_naming_file_and_field(
    tmp_path: Path, patch: dict, field: str
) -> None:
    raw = {**SPEC, **patch}
    p = tmp_path / "job.json"
    p.write_text(json.dumps(raw, allow_nan=True))
    with pytest.raises(ConfigError) as info:
        load_spec(p)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(p) in msg
    assert field in msg


def test_load_toml_and_json(tmp_path: Path) -> None:
    t = tmp_path / "job.toml"
    t.write_text(TOML)
    spec = load_spec(t)
    assert spec.job_id == "avg-1"
    assert spec.policy_outputs() == {"mean": [Identity.recipient("analyst")]}
    j = tmp_path / "job.json"
    j.write_text(json.dumps(spec.model_dump(mode="json")))
    assert spec_hash(load_spec(j)) == spec_hash(spec)


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("missing.toml", None, "file not found"),
        ("bad.toml", "job_id = ", "not valid TOML"),
        ("bad.json", "{", "not valid JSON"),
        ("job.yaml", "x: 1", ".toml or .json"),
    ],
)
def test_unreadable_specs(tmp_path: Path, name: str, text: str | None, needle: str) -> None:
    p = tmp_path / name
    if text is not None:
        p.write_text(text)
    with pytest.raises(ConfigError, match=needle) as info:
        load_spec(p)
    assert "\n" not in str(info.value)


def test_check_against_cluster(make_cluster) -> None:  # type: ignore[no-untyped-def]
    _, cfg = make_cluster(3, certs=False)
    check_against_cluster(JobSpec.model_validate(SPEC), cfg)
    for patch, needle in [
        ({"inputs": [{"party": 7, "name": "a"}]}, "party 7"),
        ({"outputs": [{"name": "m", "recipients": ["party:9"]}]}, "party:9"),
        ({"outputs": [{"name": "m", "recipients": ["recipient:eve"]}]}, "recipient:eve"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            check_against_cluster(JobSpec.model_validate({**SPEC, **patch}), cfg)


def test_spec_is_frozen_and_repr_is_short() -> None:
    spec = JobSpec.model_validate(SPEC)
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        spec.job_id = "other"  # type: ignore[misc]
    assert "salary" not in repr(spec)
    assert spec.external_recipients() == {"analyst": ["mean"]}
