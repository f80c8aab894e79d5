from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, os, threading
from driftline.cli.monitor import lower_priority
before = os.getpriority(os.PRIO_PROCESS, 0)
seen = {}
lowered = threading.Event()
def probe(name):
    seen[name + "_policy"] = os.sched_getscheduler(0)
    seen[name + "_niceness"] = os.getpriority(os.PRIO_PROCESS, 0)
def started_earlier():
    lowered.wait(10)
    probe("earlier")
earlier = threading.Thread(target=started_earlier)
earlier.start()
lower_priority(7)
lowered.set()
earlier.join()
later = threading.Thread(target=probe, args=("later",))
later.start()
later.join()
print(json.dumps({"before": before, "niceness": os.getpriority(os.PRIO_PROCESS, 0),
                  "policy": os.sched_getscheduler(0), "idle": os.SCHED_IDLE, **seen}))
"""


def test_the_monitor_yields_the_cpu_in_every_thread_already_running_or_started_later() -> None:
    """Niceness goes up by the configured amount and the idle scheduling class applies, in threads that imports
    started before (numeric libraries' pools) as well as in those started after."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    seen = json.loads(out)
    expected = min(19, seen["before"] + 7)
    assert expected == seen["niceness"] == seen["earlier_niceness"] == seen["later_niceness"]
    assert seen["idle"] == seen["policy"] == seen["earlier_policy"] == seen["later_policy"]
