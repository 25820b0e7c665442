"""Look-alike detection: does a domain imitate a protected brand? Pure and offline.

A registrable domain's label (``kbank-verify23`` of ``kbank-verify23.com``) is reduced to a *skeleton* —
Unicode confusables and digit/letter swaps folded (``k6ank`` → ``kbank``, Cyrillic ``а`` → ``a``,
``rn`` → ``m``) — and compared with each brand name: the brand inside it (``kbank-verify``), one edit
away (``paypa1``, ``payal``) or equal only after folding (a homoglyph). The brand's own domains never match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

#: Common homoglyphs and swaps seen in scam domains (a small, curated subset of Unicode TR39 confusables).
_CONFUSABLES: Final = str.maketrans(
    {
        "0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "6": "b", "7": "t", "8": "b", "9": "g", "@": "a",
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
        "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "ı": "i", "ο": "o", "α": "a",
        "ν": "v", "ρ": "p", "τ": "t", "κ": "k", "ι": "i", "ℓ": "l",
    }
)  # fmt: skip
_MULTI: Final = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("ii", "u"))
_SEPARATORS: Final = re.compile(r"[-_.]+")


@dataclass(frozen=True, slots=True)
class Brand:
    name: str
    domains: frozenset[str]


@dataclass(frozen=True, slots=True)
class Lookalike:
    brand: str
    how: str  # "contains" | "edit-distance" | "homoglyph"


def skeleton(text: str) -> str:
    """Fold case, accents, confusable characters and letter pairs; keep separators."""
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).translate(_CONFUSABLES)
    for pair, single in _MULTI:
        folded = folded.replace(pair, single)
    return folded


def edit_distance_at_most_one(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one insertion, deletion, substitution or transposition."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        swapped = i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
        return swapped or a[i + 1 :] == b[i + 1 :]
    return a[i + 1 :] == b[i:] if la > lb else a[i:] == b[i + 1 :]


def find_lookalike(registrable_domain: str, label_unicode: str, brands: Iterable[Brand]) -> Lookalike | None:
    """The brand ``registrable_domain`` imitates, if any. ``label_unicode`` is its label in Unicode form."""
    label_skeleton = skeleton(label_unicode)
    tokens = [t for t in _SEPARATORS.split(label_skeleton) if t]
    for brand in brands:
        if registrable_domain in brand.domains:
            return None
    for brand in brands:
        name = brand.name
        if label_unicode != label_unicode.encode("ascii", "ignore").decode() and label_skeleton == name:
            return Lookalike(name, "homoglyph")
        if len(name) >= 4 and name in label_skeleton:
            return Lookalike(name, "contains")
        if len(name) >= 3 and name in tokens:
            return Lookalike(name, "contains")
        if len(name) >= 5 and any(edit_distance_at_most_one(t, name) for t in tokens):
            return Lookalike(name, "edit-distance")
    return None
