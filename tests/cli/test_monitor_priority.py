from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, os, threading
from driftline.cli.monitor import lower_priority
before = os.getpriority(os.PRIO_PROCESS, 0)
lower_priority(7)
seen = {}
def probe():
    seen["thread_policy"] = os.sched_getscheduler(0)
    seen["thread_niceness"] = os.getpriority(os.PRIO_PROCESS, 0)
worker = threading.Thread(target=probe)
worker.start()
worker.join()
print(json.dumps({"before": before, "niceness": os.getpriority(os.PRIO_PROCESS, 0),
                  "policy": os.sched_getscheduler(0), "idle": os.SCHED_IDLE, **seen}))
"""


def test_the_monitor_yields_the_cpu_in_every_thread_it_starts_later() -> None:
    """Niceness goes up by the configured amount and the idle scheduling class applies, also to later threads."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    seen = json.loads(out)
    assert seen["before"] + 7 == seen["niceness"] == seen["thread_niceness"]
    assert seen["idle"] == seen["policy"] == seen["thread_policy"]
