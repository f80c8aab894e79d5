"""A stand-in for the monitor in bench/monitor_impact.py: no store, no checks, only its CPU priority and its CPU use.

`python bench/cpu_stand_in.py SHARE [NICENESS]` lowers its priority as `driftline monitor` does, then stays busy with
a pure-Python loop for SHARE of every second (0 = idle). Against the real monitor it separates what the checks
cost the service from what any work at the lowest priority costs on the same machine; at 0 it measures the
benchmark's own noise (both sides of each pair are then the same).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from driftline.cli.monitor import lower_priority


def main() -> None:
    share = float(sys.argv[1])
    lower_priority(int(sys.argv[2]) if len(sys.argv) > 2 else 19)
    while True:
        started = time.monotonic()
        while time.monotonic() - started < share:
            sum(range(10_000))
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


if __name__ == "__main__":
    main()
