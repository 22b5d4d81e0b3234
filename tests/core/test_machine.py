"""What the process may use: its CPU affinity, not the machine's count."""

from __future__ import annotations

import os

import pytest

from zhaug.machine import usable_cpus
from zhaug.train.config import TrainConfig


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this OS")
def test_a_process_pinned_to_one_core_uses_one_thread(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {1})
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert usable_cpus() == 1
    assert TrainConfig().torch_threads == 1 and TrainConfig(threads=3).torch_threads == 3


def test_without_affinity_the_machine_count_is_used(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert usable_cpus() == 6
