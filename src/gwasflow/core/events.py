"""The one event logger of gwasflow: an event is a name plus key=value fields.

The driver, the run's actions and every executor report through an
:class:`EventLog`. Each event goes to two places:

* the run's event log, ``.gwasflow/events.jsonl``: every event at ``info``
  and above, one JSON object a line (``t`` epoch seconds, ``event``,
  ``level`` unless ``info``, then the fields), written with one ``write``
  call in append mode, so lines of concurrent writers do not interleave;
* the console (stderr), for people: events at the console level and above
  (default ``warning``), as ``text`` (``<time> <level> <event> key=value ...``,
  values with spaces or quotes JSON-quoted) or as ``json`` (the same line as in
  events.jsonl). ``gwasflow --log-format json|text --log-level LEVEL`` sets
  both for the process (:func:`configure_console`).

An executor has an event log of its own with no file (console only) until
the driver hands it the run's (``use_events``), so an executor used outside a
run still reports its errors. Field values are kept as given (JSON with
``str`` for what JSON cannot hold); credentials never belong in a field.
"""

from __future__ import annotations

import enum
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

__all__ = ["EventLog", "Level", "LogFormat", "configure_console", "render"]


class Level(enum.IntEnum):
    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


class _Console:
    """Where console lines go, in which format, from which level (one per process)."""

    fmt: LogFormat = LogFormat.TEXT
    level: Level = Level.WARNING
    stream: TextIO | None = None  # None: sys.stderr as it is when a line is written (pytest swaps it)


def configure_console(*, fmt: LogFormat = LogFormat.TEXT, level: Level = Level.WARNING,
                      stream: TextIO | None = None) -> None:
    """Set the console's format and level for this process (``gwasflow --log-format/--log-level``)."""
    _Console.fmt, _Console.level, _Console.stream = LogFormat(fmt), Level(level), stream


def render(record: dict[str, Any], fmt: LogFormat) -> str:
    """One event record as one line (no newline) in ``fmt``."""
    if fmt is LogFormat.JSON:
        return json.dumps(record, default=str)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(float(record.get("t", 0.0))))
    head = [stamp + "Z", str(record.get("level", Level.INFO.name.lower())), str(record.get("event", ""))]
    fields = [f"{k}={_text(v)}" for k, v in record.items() if k not in {"t", "level", "event"}]
    return " ".join(head + fields)


def _text(value: Any) -> str:
    if isinstance(value, str) and value and not any(c in value for c in ' "=\n\t'):
        return value
    return json.dumps(value, default=str)


class EventLog:
    """Emit events to a run's ``events.jsonl`` (when it has one) and to the console."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path

    def emit(self, event: str, *, level: Level = Level.INFO, **fields: Any) -> None:
        """Record one event: ``event`` is its name, ``fields`` its key=value data."""
        record: dict[str, Any] = {"t": round(time.time(), 3), "event": event}
        if level is not Level.INFO:
            record["level"] = level.name.lower()
        record.update(fields)
        if self.path is not None and level >= Level.INFO:
            line = json.dumps(record, default=str) + "\n"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as handle:
                handle.write(line)
        if level >= _Console.level:
            stream = _Console.stream or sys.stderr
            stream.write(render(record, _Console.fmt) + "\n")
            stream.flush()

    def warning(self, event: str, **fields: Any) -> None:
        self.emit(event, level=Level.WARNING, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.emit(event, level=Level.ERROR, **fields)

    def debug(self, event: str, **fields: Any) -> None:
        self.emit(event, level=Level.DEBUG, **fields)
