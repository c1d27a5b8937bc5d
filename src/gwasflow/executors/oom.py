"""The kernel's out-of-memory kills, counted by the memory cgroup this process runs in.

The local executor reads the count when an attempt starts and again when it
ends: an attempt ended by SIGKILL while the count rose was killed by the OOM
killer (its children share this cgroup), which is evidence; a SIGKILL alone is
not. cgroup v2 keeps the count in ``memory.events``, v1 in
``memory.oom_control`` (both as a line ``oom_kill N``). Linux only; elsewhere,
or when the file cannot be read, the count is None and no OOM is inferred.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["oom_kill_count", "parse_oom_kills"]

_ROOT = Path("/sys/fs/cgroup")


def parse_oom_kills(text: str) -> int | None:
    """The ``oom_kill N`` line of ``memory.events`` (v2) or ``memory.oom_control`` (v1); None if absent."""
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value.strip())
    return None


def _candidates(proc_cgroup: str) -> list[Path]:
    """Files that may hold this process's count: its own cgroup's, then the namespace root's."""
    found: list[Path] = []
    for line in proc_cgroup.splitlines():
        _, controllers, path = [*line.split(":", 2), "", ""][:3]
        relative = path.strip().lstrip("/")
        if controllers == "":
            found.append(_ROOT / relative / "memory.events")
        elif "memory" in controllers.split(","):
            found.append(_ROOT / "memory" / relative / "memory.oom_control")
    return [*found, _ROOT / "memory.events", _ROOT / "memory" / "memory.oom_control"]


def oom_kill_count() -> int | None:
    """OOM kills so far in this process's memory cgroup (None when the kernel does not say)."""
    try:
        proc_cgroup = Path("/proc/self/cgroup").read_text()
    except OSError:
        return None
    for path in _candidates(proc_cgroup):
        try:
            count = parse_oom_kills(path.read_text())
        except OSError:
            continue
        if count is not None:
            return count
    return None
