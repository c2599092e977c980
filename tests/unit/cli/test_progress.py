"""The progress wrapper: a bar only on a terminal, without CI and without --json; a no-op (never
an ImportError) when tqdm is missing; no thread that would stop the launcher from forking."""

from __future__ import annotations

import io
import sys
import threading

import pytest

from mpc_runtime.cli import progress
from mpc_runtime.cli.progress import Progress, should_show, track


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class BrokenTTY(io.StringIO):
    def isatty(self) -> bool:
        raise ValueError("I/O operation on closed file")


@pytest.mark.parametrize(
    ("tty", "env", "json_output", "shown"),
    [
        (True, {}, False, True),
        (True, {"CI": "true"}, False, False),
        (True, {"CI": "1"}, False, False),
        (True, {"CI": ""}, False, True),  # set but empty counts as not set
        (True, {"GITHUB_ACTIONS": "true"}, False, True),  # only CI decides
        (True, {}, True, False),
        (False, {}, False, False),
        (False, {"CI": "true"}, True, False),
    ],
)
def test_should_show(tty: bool, env: dict[str, str], json_output: bool, shown: bool) -> None:
    stream = FakeTTY() if tty else io.StringIO()
    assert should_show(json_output=json_output, stream=stream, environ=env) is shown


def test_should_show_streams_without_isatty_or_closed() -> None:
    assert not should_show(stream=object(), environ={})  # type: ignore[arg-type]
    assert not should_show(stream=BrokenTTY(), environ={})


def test_default_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert not should_show(stream=FakeTTY())
    monkeypatch.delenv("CI")
    assert should_show(stream=FakeTTY())


def test_inactive_is_a_no_op_and_write_prints_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    with Progress(10, "x", stream=out, environ={}) as bar:  # not a terminal
        assert not bar.active
        bar.update(3)
        bar.describe("y")
        bar.postfix("z")
        bar.callback(lambda r: True, "ok")(object())
        bar.write("a line")
    assert out.getvalue() == ""
    assert capsys.readouterr().out == "a line\n"


def test_active_bar_draws_on_the_stream_and_starts_no_thread() -> None:
    pytest.importorskip("tqdm")
    out = FakeTTY()
    before = threading.active_count()
    with Progress(4, "bench lt", unit="rep", stream=out, environ={}) as bar:
        assert bar.active
        assert threading.active_count() == before
        step = bar.callback(lambda accepted: accepted, "accepted")
        for ok in (True, False, True):
            step(ok)
        bar.write("row", file=out)
        bar._bar.refresh()
        text = out.getvalue()
        assert "bench lt" in text and "3/4" in text and "accepted 2" in text
        assert "row\n" in text
    assert not bar.active  # closed
    bar.close()  # idempotent


def test_json_or_ci_means_no_bar_even_on_a_terminal() -> None:
    assert not Progress(3, stream=FakeTTY(), environ={}, json_output=True).active
    assert not Progress(3, stream=FakeTTY(), environ={"CI": "true"}).active


def test_missing_tqdm_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` raise ImportError
    assert not progress.available()
    bar = Progress(3, "x", stream=FakeTTY(), environ={})
    assert not bar.active
    bar.update()
    bar.close()


def test_track_yields_every_item() -> None:
    assert list(track(range(5), "t")) == [0, 1, 2, 3, 4]
    assert list(track(iter("abc"))) == ["a", "b", "c"]
