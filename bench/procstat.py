"""What the benches read about processes from Linux's ``/proc``: children, CPU, peak memory."""
from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    """``root`` and its children (gunicorn's master and workers, a consumer)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == root:
                    children.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return [root, *children]


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (``/proc/<pid>/stat`` fields 14 and 15); 0 once gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mb(pids: list[int]) -> float:
    """The largest peak resident set (``VmHWM``) among the processes, in MiB."""
    peak = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            continue
    return peak
