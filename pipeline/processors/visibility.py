"""TLP per report: who may see which report, and what each audience's view of an indicator is. Pure.

Every report keeps its own TLP. A subscription sees a report when (TLP 2.0):

- CLEAR: always;  GREEN: when it is cleared for GREEN or more;  AMBER: when cleared for AMBER or more;
- AMBER+STRICT: only when the subscription belongs to the reporting organisation;
- any of its organisation's own reports (except RED): always — it knows them;
- RED: never (RED reports count for nobody; they are kept, never shared).

Subscriptions that see the same reports form an *audience*: the clearance class (CLEAR, GREEN, or
AMBER-or-more), and, for an organisation that reported the indicator, that organisation's own audience
per class. An audience's :class:`View` is computed from its visible reports only — counts, scam types,
confidence, first/last seen, TLP, score and status — so no field of what a subscription receives depends on
a report it may not see, and a restricted report can neither block nor delay what others receive.

Status of a view: ``active``; ``suppressed`` (false positives from at least ``fp_quorum`` organisations,
more than the organisations that still support it in this view — its reporters and true-positive
sighters that did not also call it a false positive: reversible, new evidence brings it back);
``withdrawn`` (every visible report was withdrawn by its reporter: reversible); ``expired`` (no visible
report for two half-lives: reversible); ``none`` (nothing visible: never delivered).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

from pipeline.processors.score import ScoreModel, band
from pipeline.state.indicator import NO_VIEW, Audience, Contribution, IndicatorState
from pipeline.stix.tlp import TLP

T = TypeVar("T")

Status = Literal["active", "suppressed", "withdrawn", "expired", "none"]

#: The clearance classes: what a subscription cleared for AMBER, AMBER+STRICT or RED sees of others is AMBER.
CLASSES: Final[tuple[TLP, ...]] = (TLP.CLEAR, TLP.GREEN, TLP.AMBER)
ROOT: Final = Audience()


def clearance_class(cleared: TLP) -> int:
    level = int(cleared)
    return 2 if level > 2 else level  # AMBER, AMBER+STRICT and RED clearances see others' AMBER at most


def audience_key(cleared: TLP, org: str | None = None) -> str:
    """``"1"`` (GREEN community) or ``"1:bank-sg"`` (bank-sg's own audience at GREEN)."""
    cls = clearance_class(cleared)
    return f"{cls}" if org is None else f"{cls}:{org}"


def parent_key(key: str) -> str | None:
    """The audience a key shares its view with while it has no entry of its own."""
    if ":" in key:
        return key.split(":", 1)[0]
    return None if key == "0" else str(int(key) - 1)


def nearest(entries: Mapping[str, T], key: str) -> T | None:
    """The entry that stands for ``key``: its own, else its nearest ancestor's (None: no ancestor has one).

    The audiences of a state and the views of a record share this walk."""
    current: str | None = key
    while current is not None:
        entry = entries.get(current)
        if entry is not None:
            return entry
        current = parent_key(current)
    return None


def resolve(entries: Mapping[str, Audience], key: str) -> Audience:
    """What audience ``key`` last saw (nothing yet: :data:`ROOT`)."""
    found = nearest(entries, key)
    return ROOT if found is None else found


def visible(c: Contribution, cls: int, org: str | None) -> bool:
    if c.tlp == TLP.RED:
        return False
    if org is not None and c.org == org:
        return True
    if c.tlp == TLP.AMBER_STRICT:
        return False
    return int(c.tlp) <= cls


@dataclass(frozen=True, slots=True)
class View:
    """What one audience sees of one indicator."""

    status: Status
    tlp: TLP = TLP.CLEAR
    score: int = 0
    band: str = "low"
    scam_types: frozenset[str] = frozenset()
    reporter_count: int = 0
    report_count: int = 0
    confidence: int = 0
    first_ms: int = 0
    last_ms: int = 0

    def fingerprint(self) -> str:
        """What a subscriber acts on: status, TLP, band, scam types, how many organisations report it."""
        if self.status == "none":
            return NO_VIEW
        text = f"{self.status}|{int(self.tlp)}|{self.band}|{','.join(sorted(self.scam_types))}|"
        text += str(self.reporter_count)
        return hashlib.blake2b(text.encode(), digest_size=5).hexdigest()


#: the view of an audience that can see no report
NONE: Final = View("none")


def compute_view(state: IndicatorState, cls: int, org: str | None, model: ScoreModel, now_ms: int) -> View:
    seen = [c for c in state.contributions if visible(c, cls, org)]
    return view_from(state, seen, model, now_ms)


def view_from(state: IndicatorState, seen: Iterable[Contribution], model: ScoreModel, now_ms: int) -> View:
    seen = tuple(seen)
    if not seen:
        return NONE
    active = [c for c in seen if not c.withdrawn]
    if not active:
        return View("withdrawn", tlp=max(c.tlp for c in seen))
    # One pass over the visible reports (this runs for every audience of every merged indicator).
    first = active[0]
    reporters = {first.org}
    first_ms, last_ms, tlp = first.first_ms, first.last_ms, first.tlp
    confidence, report_count, types = first.confidence, first.reports, set(first.scam_types)
    for c in active[1:]:
        reporters.add(c.org)
        first_ms = min(first_ms, c.first_ms)
        last_ms = max(last_ms, c.last_ms)
        tlp = max(tlp, c.tlp)
        confidence = max(confidence, c.confidence)
        report_count += c.reports
        types.update(c.scam_types)
    score = model.score(state.kind, active, state.tp_by, state.fp_by, now_ms)
    against = state.fp_by
    status: Status = "active"
    if (
        against
        and len(against) >= model.fp_quorum
        and len(against) > len((reporters | state.tp_by) - against)
    ):
        status, score = "suppressed", 0
    elif now_ms >= last_ms + 2 * model.half_life_ms(state.kind):
        status, score = "expired", 0
    return View(
        status=status,
        tlp=tlp,
        score=score,
        band=band(score, model),
        scam_types=frozenset(types),
        reporter_count=len(reporters),
        report_count=report_count,
        confidence=confidence,
        first_ms=first_ms,
        last_ms=last_ms,
    )


def widest_score(state: IndicatorState, model: ScoreModel, now_ms: int) -> int:
    """The operators' score: every report except RED, as if one audience could see them all."""
    seen = [c for c in state.active if c.tlp != TLP.RED]
    return model.score(state.kind, seen, state.tp_by, state.fp_by, now_ms) if seen else 0


def audience_keys(state: IndicatorState) -> list[str]:
    """Every audience whose view can differ: the classes, then each reporting organisation's own."""
    orgs = sorted({c.org for c in state.contributions if c.tlp != TLP.RED})
    return [str(int(c)) for c in CLASSES] + [f"{int(c)}:{o}" for o in orgs for c in CLASSES]


def visible_indexes(state: IndicatorState, key: str) -> tuple[int, ...]:
    """Positions in ``state.contributions`` of the reports audience ``key`` may see."""
    cls_text, _, org = key.partition(":")
    cls = int(cls_text)
    return tuple(i for i, c in enumerate(state.contributions) if visible(c, cls, org or None))


Seen = tuple[int, ...]


class _Remembered:
    """What was computed of one contributions tuple: its audience sets, and its views (by the positions
    they see) for one set of scoring inputs."""

    __slots__ = ("contributions", "inputs", "model", "prints", "sets", "views")

    def __init__(self, contributions: tuple[Contribution, ...]) -> None:
        self.contributions = contributions
        self.sets: tuple[tuple[str, Seen], ...] | None = None
        self.model: ScoreModel | None = None
        self.inputs: tuple[object, ...] = ()
        self.views: dict[Seen, View] = {}
        #: the fingerprints of :attr:`views`, by the same positions
        self.prints: dict[Seen, str] = {}

    def audience_sets(self) -> tuple[tuple[str, Seen], ...]:
        """:func:`audience_sets` of these contributions, computed once."""
        if self.sets is None:
            self.sets = _audience_sets(self.contributions)
        return self.sets

    def scored(self, state: IndicatorState, model: ScoreModel, now_ms: int) -> _Remembered:
        """This memo, its views (and their fingerprints) forgotten unless they were computed for these
        scoring inputs: the state's kind, sightings and ``now_ms``, and ``model``."""
        inputs = (state.kind, state.tp_by, state.fp_by, now_ms)
        if self.model is not model or self.inputs != inputs:
            self.model, self.inputs, self.views, self.prints = model, inputs, {}, {}
        return self

    def view(self, state: IndicatorState, seen: Seen, model: ScoreModel, now_ms: int) -> View:
        """The view of the reports at ``seen``; call on what :meth:`scored` returned."""
        view = self.views.get(seen)
        if view is None:
            view = self.views[seen] = view_from(state, [self.contributions[i] for i in seen], model, now_ms)
        return view


#: what was computed of a state's contributions: merging scores a state's audiences and publishing it builds
#: their views from the same contributions tuple (``replace`` keeps it). Keyed by identity, and holding the
#: tuple so that no other can take its id while it is here; bounded.
_MEMO: dict[int, _Remembered] = {}
_MEMO_MAX: Final = 4096


def _remembered(contributions: Sequence[Contribution]) -> _Remembered | None:
    """The memo of ``contributions``; None unless it is a tuple (only an immutable tuple can stand for its
    contents)."""
    if type(contributions) is not tuple:
        return None
    hit = _MEMO.get(id(contributions))
    if hit is not None and hit.contributions is contributions:
        return hit
    if len(_MEMO) >= _MEMO_MAX:
        _MEMO.clear()
    hit = _MEMO[id(contributions)] = _Remembered(contributions)
    return hit


def audience_sets(state: IndicatorState) -> tuple[tuple[str, Seen], ...]:
    """Every audience of :func:`audience_keys`, in that order, with the positions it may see: what
    :func:`visible_indexes` gives for each key, computed for all of them at once.

    A class sees the reports at or below it (so never AMBER+STRICT or RED); an organisation's own audience
    sees its class's and every report of its own except RED."""
    memo = _remembered(state.contributions)
    if memo is None:
        return _audience_sets(tuple(state.contributions))
    return memo.audience_sets()


_ONE: Final[Seen] = (0,)
_NOBODY: Final = (("0", ()), ("1", ()), ("2", ()))


def _audience_sets(contributions: tuple[Contribution, ...]) -> tuple[tuple[str, tuple[int, ...]], ...]:
    if len(contributions) == 1:  # most indicators: one organisation's report, seen by its own and up
        level, org = int(contributions[0].tlp), contributions[0].org
        if level == int(TLP.RED):
            return _NOBODY
        return (
            ("0", _ONE if level <= 0 else ()), ("1", _ONE if level <= 1 else ()),
            ("2", _ONE if level <= 2 else ()), (f"0:{org}", _ONE), (f"1:{org}", _ONE), (f"2:{org}", _ONE),
        )  # fmt: skip
    levels = [(int(c.tlp), c.org) for c in contributions]
    classes = [tuple(i for i, (lvl, _) in enumerate(levels) if lvl <= cls) for cls in (0, 1, 2)]
    out = [("0", classes[0]), ("1", classes[1]), ("2", classes[2])]
    red = int(TLP.RED)
    for org in sorted({o for lvl, o in levels if lvl != red}):
        own = {i for i, (lvl, o) in enumerate(levels) if o == org and lvl != red}
        for cls in (0, 1, 2):
            out.append((f"{cls}:{org}", tuple(sorted(own.union(classes[cls])))))
    return tuple(out)


def view_of_set(state: IndicatorState, seen: Seen, model: ScoreModel, now_ms: int) -> View:
    """:func:`view_from` of the reports at positions ``seen``, remembered for this state's contributions,
    kind, sightings and ``now_ms`` (what a view depends on): merging fingerprints the views publishing
    then builds bundles of."""
    memo = _remembered(state.contributions)
    if memo is None:
        return view_from(state, [state.contributions[i] for i in seen], model, now_ms)
    return memo.scored(state, model, now_ms).view(state, seen, model, now_ms)


def fingerprints(state: IndicatorState, model: ScoreModel, now_ms: int) -> dict[str, str]:
    """Each audience's view fingerprint; audiences that see the same reports share one computation (kept in
    the contributions' memo, looked up once here, when there is one)."""
    memo = _remembered(state.contributions)
    if memo is None:
        sets, prints = _audience_sets(tuple(state.contributions)), {}

        def view(seen: Seen) -> View:
            return view_from(state, [state.contributions[i] for i in seen], model, now_ms)
    else:
        scored = memo.scored(state, model, now_ms)
        sets, prints = scored.audience_sets(), scored.prints

        def view(seen: Seen) -> View:
            return scored.view(state, seen, model, now_ms)

    out: dict[str, str] = {}
    for key, seen in sets:
        fp = prints.get(seen)
        if fp is None:
            fp = prints[seen] = view(seen).fingerprint()
        out[key] = fp
    return out


def next_audiences(
    before: Mapping[str, Audience], prints: Mapping[str, str], version: int
) -> dict[str, Audience]:
    """The audiences after a change, given each key's new view fingerprint; ``version`` is the new
    global version (``since`` of what changed). A key keeps no entry of its own while its view is its
    parent's: a new entry's ``seq`` continues from what its subscribers last saw."""
    after = dict(before)
    for key, fp in prints.items():
        own = before.get(key)
        if own is not None:
            if fp != own.fingerprint:
                after[key] = Audience(fp, own.seq + 1, version)
            continue
        parent = parent_key(key)
        inherited = resolve(after, parent) if parent is not None else ROOT
        if fp != inherited.fingerprint:
            was = resolve(before, key)
            after[key] = Audience(fp, max(was.seq, inherited.seq) + 1, version)
    return after
