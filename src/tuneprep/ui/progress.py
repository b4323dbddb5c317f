"""Progress for long work: Rich bars on a terminal, plain lines everywhere else.

Both forms have the same small interface, which the engine, training and evaluation call:
``start(name, total, unit)``, ``advance(name, amount, records=0, info="")``,
``update(name, completed, info="")`` and ``finish(name)``.

Off a terminal one line is written when a task starts, then at most every
``TUNEPREP_PROGRESS_INTERVAL`` seconds (default 30) or when it crosses a 10 % step (but not more
often than every 2 s), and once when it ends: counts, rate and ETA, so a slow run can be told
from a hung one in ``make demo > log``.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any

from tuneprep.ui.console import is_terminal, make_console, settings
from tuneprep.ui.events import emit

MIN_GAP_S = 2.0


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get("TUNEPREP_PROGRESS_INTERVAL", "30")))
    except ValueError:
        return 30.0


def format_duration(seconds: float) -> str:
    """``75`` → ``1m15s``; ``3700`` → ``1h01m``."""
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


@dataclass
class _Task:
    total: float | None
    unit: str
    t0: float = field(default_factory=time.perf_counter)
    done: float = 0.0
    records: int = 0
    info: str = ""
    last_line: float = 0.0
    last_decile: int = 0

    def rate(self) -> float:
        count = self.records if self.unit == "bytes" and self.records else self.done
        return count / max(1e-9, time.perf_counter() - self.t0)

    def eta(self) -> float | None:
        if not self.total or self.done <= 0:
            return None
        elapsed = time.perf_counter() - self.t0
        return elapsed * (self.total - self.done) / self.done


class PlainProgress:
    """Plain progress lines on a stream (stderr by default)."""

    def __init__(self, stream: IO[str] | None = None, interval: float | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.interval = _interval() if interval is None else interval
        self.tasks: dict[str, _Task] = {}

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def _line(self, name: str, task: _Task, final: bool = False) -> str:
        elapsed = time.perf_counter() - task.t0
        if task.unit == "bytes":
            pct = f" ({100 * task.done / task.total:.0f}%)" if task.total else ""
            count = f"{task.records:,} records{pct}"
            rate = f"{task.records / max(elapsed, 1e-9):,.0f} records/s"
        else:
            of = f"/{int(task.total):,}" if task.total else ""
            pct = f" ({100 * task.done / task.total:.0f}%)" if task.total else ""
            count = f"{int(task.done):,}{of} {task.unit}{pct}"
            rate = f"{task.done / max(elapsed, 1e-9):,.1f} {task.unit}/s"
        if final:
            parts = [f"[{name}] done: {count}", f"{format_duration(elapsed)}", rate]
        else:
            eta = task.eta()
            parts = [f"[{name}] {count}", rate, f"elapsed {format_duration(elapsed)}"]
            if eta is not None:
                parts.append(f"ETA {format_duration(eta)}")
        if task.info:
            parts.append(task.info)
        return " · ".join(parts)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def _maybe_report(self, name: str, task: _Task) -> None:
        now = time.perf_counter()
        decile = int(10 * task.done / task.total) if task.total else 0
        due = now - task.last_line >= self.interval
        crossed = decile > task.last_decile and now - task.last_line >= MIN_GAP_S
        if due or crossed:
            task.last_line = now
            task.last_decile = decile
            self._write(self._line(name, task))
            emit("progress", stage=name, done=task.done, total=task.total, unit=task.unit,
                 records=task.records or None, rate=round(task.rate(), 3), eta_s=task.eta(), info=task.info)

    def start(self, name: str, total: float | None, unit: str = "records") -> None:
        task = self.tasks[name] = _Task(total=total, unit=unit)
        task.last_line = time.perf_counter()
        of = f" of {int(total):,} {unit}" if total and unit != "bytes" else ""
        self._write(f"[{name}] started{of}")
        emit("stage_start", stage=name, total=total, unit=unit)

    def advance(self, name: str, amount: float, records: int = 0, info: str = "") -> None:
        task = self.tasks[name]
        task.done += amount
        task.records += records or (int(amount) if task.unit == "records" else 0)
        if info:
            task.info = info
        self._maybe_report(name, task)

    def update(self, name: str, completed: float, info: str = "") -> None:
        task = self.tasks[name]
        task.done = completed
        if info:
            task.info = info
        self._maybe_report(name, task)

    def finish(self, name: str) -> None:
        task = self.tasks[name]
        if task.total:
            # Finishing means complete (as the Rich bar shows it): callers advance in chunks.
            task.done = max(task.done, task.total)
        self._write(self._line(name, task, final=True))
        emit("stage_end", stage=name, done=task.done, total=task.total, unit=task.unit,
             records=task.records or None, seconds=round(time.perf_counter() - task.t0, 3))


class RichProgress:
    """Rich progress bars (terminal only) with count, rate, ETA and a free info field."""

    def __init__(self, console: Any = None):
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[count]}"), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
            console=console or make_console(stderr=True), transient=False,
        )
        self.tasks: dict[str, tuple[Any, _Task]] = {}

    def __enter__(self) -> RichProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def _refresh(self, name: str, **kw: Any) -> None:
        tid, task = self.tasks[name]
        if task.unit == "bytes":
            count, rate = f"{task.records:,} records", f"{task.rate():,.0f}/s"
        else:
            of = f"/{int(task.total):,}" if task.total else ""
            count, rate = f"{int(task.done):,}{of} {task.unit}", f"{task.rate():,.1f}/s"
        self.progress.update(tid, count=count, rate=rate, info=task.info, **kw)

    def start(self, name: str, total: float | None, unit: str = "records") -> None:
        tid = self.progress.add_task(name, total=total, count="", rate="", info="")
        self.tasks[name] = (tid, _Task(total=total, unit=unit))
        emit("stage_start", stage=name, total=total, unit=unit)

    def advance(self, name: str, amount: float, records: int = 0, info: str = "") -> None:
        _, task = self.tasks[name]
        task.done += amount
        task.records += records or (int(amount) if task.unit == "records" else 0)
        task.info = info or task.info
        self._refresh(name, advance=amount)

    def update(self, name: str, completed: float, info: str = "") -> None:
        _, task = self.tasks[name]
        task.done = completed
        task.info = info or task.info
        self._refresh(name, completed=completed)

    def finish(self, name: str) -> None:
        tid, task = self.tasks[name]
        prog_task = self.progress.tasks[tid]
        self._refresh(name, completed=prog_task.total or prog_task.completed)
        emit("stage_end", stage=name, done=task.done, total=task.total, unit=task.unit,
             records=task.records or None, seconds=round(time.perf_counter() - task.t0, 3))


class NoProgress:
    """``--quiet``: nothing printed, but the JSON event log still gets stage start/end."""

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def start(self, name: str, total: float | None, unit: str = "records") -> None:
        emit("stage_start", stage=name, total=total, unit=unit)

    def advance(self, name: str, amount: float, records: int = 0, info: str = "") -> None:
        return None

    def update(self, name: str, completed: float, info: str = "") -> None:
        return None

    def finish(self, name: str) -> None:
        emit("stage_end", stage=name)


def make_progress(quiet: bool = False) -> PlainProgress | RichProgress | NoProgress:
    """The right progress for where stderr goes: bars on a terminal, plain lines otherwise."""
    if quiet or settings.quiet:
        return NoProgress()
    return RichProgress() if is_terminal(sys.stderr) else PlainProgress()


class TaskBar:
    """One progress task with a tqdm-like face (``update(n)``, ``close()``) for simple loops."""

    def __init__(self, name: str, total: int | None, unit: str = "records", enabled: bool = True):
        self.name = name
        self.progress = make_progress(quiet=not enabled)
        self.progress.__enter__()
        self.progress.start(name, total, unit)
        self.closed = False

    def update(self, n: int = 1, info: str = "") -> None:
        self.progress.advance(self.name, n, info=info)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.progress.finish(self.name)
            self.progress.__exit__(None, None, None)

    def __enter__(self) -> TaskBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
