"""CPU used over a stretch of a benchmark: the whole process, and the thread that measures (the event loop).

The worker's agents, faust and the Redis client all run in the event loop's one thread, so its CPU is what
bounds the worker's rate; the process figure adds librdkafka's threads and the benchmark's own sender.
Both are steadier than a rate when the machine is noisy: another process's load slows the rate, not the
CPU a report costs (except through caches), so an A/B of a change compares these first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["CpuUse"]


@dataclass
class CpuUse:
    """Started on creation, in the thread to measure; :meth:`figures` gives what was used since."""

    _thread: float = field(default_factory=time.thread_time)
    _process: float = field(default_factory=time.process_time)

    def figures(self, reports: int) -> dict[str, float]:
        """CPU seconds since creation, and microseconds a report, of the loop's thread and the process."""
        loop_s, process_s = time.thread_time() - self._thread, time.process_time() - self._process
        return {
            "loop_thread_s": round(loop_s, 3),
            "process_s": round(process_s, 3),
            "loop_thread_us_per_report": round(loop_s / reports * 1e6, 1) if reports else 0.0,
            "process_us_per_report": round(process_s / reports * 1e6, 1) if reports else 0.0,
        }
