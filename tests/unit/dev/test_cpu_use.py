"""The benchmark's CPU figures: the measuring thread's and the whole process's, per report."""

from __future__ import annotations

import threading
import time

import pytest

from pipeline.dev.cpu_use import CpuUse


def spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_another_threads_cpu_counts_for_the_process_only() -> None:
    cpu = CpuUse()
    spin(0.05)
    other = threading.Thread(target=spin, args=(0.15,))
    other.start()
    other.join()
    figures = cpu.figures(reports=10)
    assert 0.05 <= figures["loop_thread_s"] < 0.15  # this thread's spin, not the other's
    assert figures["process_s"] >= 0.19
    assert figures["loop_thread_us_per_report"] == pytest.approx(
        figures["loop_thread_s"] / 10 * 1e6, rel=0.01
    )


def test_no_reports_gives_no_rate() -> None:
    figures = CpuUse().figures(reports=0)
    assert figures["loop_thread_us_per_report"] == figures["process_us_per_report"] == 0.0
