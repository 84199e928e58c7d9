import os
import subprocess
import sys

import pytest

from bridge import faults


def test_unarmed_point_does_nothing():
    faults.fault_point("after ledger create")


def test_armed_point_raises_then_can_be_disarmed():
    faults.arm("before link write")
    with pytest.raises(faults.InjectedFault):
        faults.fault_point("before link write")
    faults.disarm("before link write")
    faults.fault_point("before link write")


def test_point_armed_for_a_number_of_times_disarms_itself():
    faults.arm("p", "raise", times=2)
    for _ in range(2):
        with pytest.raises(faults.InjectedFault):
            faults.fault_point("p")
    faults.fault_point("p")


def test_kill_from_the_environment_ends_the_process_at_once():
    code = "from bridge import faults; faults.fault_point('after ledger create'); print('survived')"
    env = {**os.environ, "BRIDGE_FAULTS": "after ledger create=kill"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == -9
    assert "survived" not in result.stdout
