"""Progress bars for long commands and benchmark scripts, on a terminal only.

A thin wrapper over `tqdm <https://tqdm.github.io>`_, an OPTIONAL dependency (the ``progress``
extra: ``pip install 'mpc-runtime[progress]'``).  A bar is drawn on stderr only when all of
these hold (:func:`should_show`):

* stderr is a terminal (``isatty()``), so pipes, files and launched children stay quiet;
* ``CI`` is not set to a non-empty value in the environment;
* the command was not given ``--json`` (callers pass ``json_output``);
* tqdm can be imported.

Otherwise every method of :class:`Progress` is a no-op (and :meth:`Progress.write` prints the
line plainly), so callers never branch and a missing tqdm is never an ImportError.

A bar carries counts and descriptions only: callers must never put an input, share or output
value into a description, postfix or line (the CLI's rule, see :mod:`mpc_runtime.cli.output`).
The bar class has no monitor thread (``monitor_interval = 0``): the launcher forks party
processes only from a process without extra threads, and a bar must not change that.

May import: the standard library, and tqdm (optional, lazily).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, TextIO, TypeVar

__all__ = ["Progress", "available", "should_show", "track"]

T = TypeVar("T")


def should_show(
    *,
    json_output: bool = False,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> bool:
    """Whether a bar may be drawn: a terminal on ``stream`` (default stderr), no ``CI``, no
    ``--json``.  Does not look at whether tqdm is installed (see :func:`available`)."""
    if json_output:
        return False
    env = os.environ if environ is None else environ
    if env.get("CI"):
        return False
    out = sys.stderr if stream is None else stream
    isatty = getattr(out, "isatty", None)
    if isatty is None:
        return False
    try:
        return bool(isatty())
    except (ValueError, OSError):  # a closed or detached stream
        return False


def _bar_class() -> Any:
    """tqdm's bar class without the monitor thread, or None if tqdm is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None

    class _Bar(tqdm):
        monitor_interval = 0  # no TMonitor thread: the launcher forks only without threads

    return _Bar


def available() -> bool:
    """Whether the optional progress library (tqdm) can be imported."""
    return _bar_class() is not None


class Progress:
    """A progress bar on stderr, or a no-op (see the module docstring for when it is drawn).

    ``total`` is the number of units (None: unknown); ``desc`` a short label; ``unit`` what one
    step counts.  Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        total: int | None,
        desc: str = "",
        *,
        unit: str = "it",
        json_output: bool = False,
        stream: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
        leave: bool = False,
    ) -> None:
        self._bar: Any = None
        self.stream = sys.stderr if stream is None else stream
        if not should_show(json_output=json_output, stream=self.stream, environ=environ):
            return
        cls = _bar_class()
        if cls is None:
            return
        self._bar = cls(
            total=total,
            desc=desc,
            unit=unit,
            file=self.stream,
            leave=leave,
            dynamic_ncols=True,
            mininterval=0.2,
        )

    @property
    def active(self) -> bool:
        """True when a bar is drawn."""
        return self._bar is not None

    def update(self, n: int = 1) -> None:
        """Advance by ``n`` units."""
        if self._bar is not None and n:
            self._bar.update(n)

    def describe(self, desc: str) -> None:
        """Replace the label in front of the bar."""
        if self._bar is not None:
            self._bar.set_description_str(desc, refresh=False)

    def postfix(self, text: str) -> None:
        """Text after the counts (for example ``accepted 97, refused 3``)."""
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def write(self, line: str, file: TextIO | None = None) -> None:
        """Print ``line`` (default: on stdout) without breaking the bar; plainly when inactive."""
        out = sys.stdout if file is None else file
        if self._bar is not None:
            self._bar.write(line, file=out)
            out.flush()
        else:
            print(line, file=out, flush=True)

    def callback(
        self, count_if: Callable[[Any], bool] | None = None, label: str = ""
    ) -> Callable[[Any], None]:
        """A function that advances the bar by one per call; with ``count_if``, it also counts
        the items for which ``count_if(item)`` is true and shows ``<label> <count>`` after the
        bar (for example the submissions accepted so far)."""
        counted = 0

        def step(item: Any) -> None:
            nonlocal counted
            if count_if is not None:
                counted += bool(count_if(item))
                self.postfix(f"{label} {counted}".strip())
            self.update(1)

        return step

    def close(self) -> None:
        """Remove the bar (idempotent)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def track(
    items: Iterable[T],
    desc: str = "",
    *,
    total: int | None = None,
    unit: str = "it",
    json_output: bool = False,
) -> Iterator[T]:
    """Iterate over ``items`` with a bar (``total`` defaults to ``len(items)`` when defined)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(total, desc, unit=unit, json_output=json_output) as bar:
        for item in items:
            yield item
            bar.update(1)
