"""Consumer status in the manner of Burrow, over a sliding window of observed commits. Pure.

A partition's history is a list of :class:`CommitSample` — (time, committed offset, end offset) as the lag
sampler saw them. Kafka's admin API tells us the committed offset, not when it was committed, so "a commit"
here means "the committed offset observed at a sample"; the sampler keeps the first and last sample of a run
of equal offsets, so the time an offset *first* appeared survives (:func:`offset_since`).

Rules, first match wins (``window_s`` is the sliding window, ``now`` the evaluation time):

1. **REWIND** — the committed offset went backwards between two samples in the window.
2. **OK** — no lag now.
3. **STOP** — lag > 0 and the committed offset has not moved for longer than the window, and the group has no
   live members (or membership is unknown): nobody is committing.
4. **STALL** — lag > 0, the group has live members, and they keep the same offset over the whole window:
   consuming, but not progressing.
5. **OK** — lag was zero at some sample in the window (Burrow's rule 1: it caught up recently).
6. **WARN** — the lag never went down across the window: lag growing (or fixed while the offsets move:
   the consumer keeps pace but stays behind).
7. **ERR** — the time lag exceeds ``err_lag_seconds`` (a per-subscriber SLO).
8. **OK** — otherwise (including too few samples to judge; the reason says so).

Trend rules (4 and 6) judge only a window of at least ``min_samples`` samples spread over ``min_span_s``
seconds, as Burrow waits for a full window; until then the reason says the window is too short.

A group's status is the most severe of its partitions' (:func:`worst`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise


class Status(StrEnum):
    """Burrow's partition statuses (NOTFOUND is a label on the group instead)."""

    OK = "OK"
    WARN = "WARN"
    REWIND = "REWIND"
    STALL = "STALL"
    STOP = "STOP"
    ERR = "ERR"


#: Higher is worse; the group reports its worst partition.
SEVERITY: dict[Status, int] = {
    Status.OK: 0,
    Status.WARN: 1,
    Status.REWIND: 2,
    Status.STALL: 3,
    Status.STOP: 4,
    Status.ERR: 5,
}


@dataclass(frozen=True, slots=True)
class CommitSample:
    """One observation of a group's partition: when, its committed offset (None: never committed), the end."""

    at: float
    committed: int | None
    end: int
    start: int = 0

    @property
    def lag(self) -> int:
        """Messages not yet consumed; never negative (a consumer without a commit starts at ``start``)."""
        base = self.start if self.committed is None or self.committed < self.start else self.committed
        return max(0, self.end - base)


@dataclass(frozen=True, slots=True)
class StatusRules:
    """Thresholds of the rules above."""

    window_s: float = 300.0
    min_samples: int = 3
    min_span_s: float = 60.0  # trend rules (STALL, WARN) need samples spread over at least this long
    err_lag_seconds: float | None = 600.0


DEFAULT_RULES = StatusRules()


@dataclass(frozen=True, slots=True)
class Verdict:
    """A status and the sentence that explains it."""

    status: Status
    reason: str


def in_window(samples: Sequence[CommitSample], now: float, window_s: float) -> list[CommitSample]:
    """The samples taken within ``window_s`` of ``now``, oldest first (the latest is always kept)."""
    ordered = sorted(samples, key=lambda s: s.at)
    recent = [s for s in ordered if s.at >= now - window_s]
    if not recent and ordered:
        recent = [ordered[-1]]
    return recent


def offset_since(samples: Sequence[CommitSample]) -> float | None:
    """When the latest committed offset was first observed (start of its trailing run); None if no samples."""
    ordered = sorted(samples, key=lambda s: s.at)
    if not ordered:
        return None
    current = ordered[-1].committed
    since = ordered[-1].at
    for sample in reversed(ordered):
        if sample.committed != current:
            break
        since = sample.at
    return since


def _rewound(window: Sequence[CommitSample]) -> CommitSample | None:
    previous: int | None = None
    for sample in window:
        if sample.committed is None:
            continue
        if previous is not None and sample.committed < previous:
            return sample
        previous = sample.committed
    return None


def partition_status(
    samples: Sequence[CommitSample],
    now: float,
    rules: StatusRules = DEFAULT_RULES,
    *,
    lag_seconds: float | None = None,
    active: bool | None = None,
) -> Verdict:
    """Status of one partition from its commit history (see the module docstring for the rules).

    ``active`` says whether the group has live members (None: unknown). ``lag_seconds`` is the time lag
    now, for the SLO rule.

    >>> s = [CommitSample(0, 5, 5), CommitSample(10, 9, 9)]
    >>> partition_status(s, now=10).status
    <Status.OK: 'OK'>
    """
    if not samples:
        return Verdict(Status.OK, "no samples yet")
    window = in_window(samples, now, rules.window_s)
    latest = window[-1]
    rewound = _rewound(window)
    if rewound is not None:
        return Verdict(Status.REWIND, f"committed offset went back to {rewound.committed}")
    if latest.lag == 0:
        return Verdict(Status.OK, "caught up")
    since = offset_since(samples)
    unchanged_for = now - since if since is not None else 0.0
    if unchanged_for > rules.window_s and active is not True:
        what = "no commit" if latest.committed is None else f"no commit past {latest.committed}"
        return Verdict(Status.STOP, f"{what} for {unchanged_for:.0f} s with lag {latest.lag}")
    moved = any(s.committed != latest.committed for s in window)
    judged = len(window) >= rules.min_samples and latest.at - window[0].at >= rules.min_span_s
    if active is True and not moved and judged:
        offset = "no committed offset" if latest.committed is None else f"offset {latest.committed}"
        return Verdict(Status.STALL, f"members keep {offset} with lag {latest.lag}")
    if any(s.lag == 0 for s in window):
        return Verdict(Status.OK, "caught up within the window")
    lags = [s.lag for s in window]
    if judged and all(b >= a for a, b in pairwise(lags)):
        return Verdict(Status.WARN, f"lag not shrinking over {len(window)} samples ({lags[0]} → {lags[-1]})")
    if rules.err_lag_seconds is not None and lag_seconds is not None and lag_seconds > rules.err_lag_seconds:
        return Verdict(Status.ERR, f"{lag_seconds:.0f} s behind, over the {rules.err_lag_seconds:.0f} s SLO")
    if not judged:
        return Verdict(Status.OK, f"lag {latest.lag}; window too short to judge a trend")
    return Verdict(Status.OK, "lag shrinking")


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status (OK for none)."""
    return max(statuses, key=SEVERITY.__getitem__, default=Status.OK)
