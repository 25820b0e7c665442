"""The Public Suffix List lookup of a plain ASCII host, on tldextract's list without its per-call machinery.

``tldextract.TLDExtract.extract_str`` takes any URL-like text: it strips a scheme, a path, user info and a
port, rewrites Unicode dots, tests for IP addresses and builds an ``ExtractResult`` — about two thirds of a
lookup for a host :func:`pipeline.canon.domain.to_ascii` has already reduced to lower-case labels. For such
a host, :func:`public_suffix` walks the same list the same way tldextract's ``suffix_index`` does (labels
from the right through a trie of reversed rules; a ``*`` rule takes one more label unless a ``!`` exception
names it; Punycode labels looked up decoded, as the list writes them) and gives the index of the first
suffix label and whether its rule is in the list's private section. A test holds the split equal to
tldextract's for every rule of the list.

The list itself is tldextract's bundled snapshot, read through its public ``tlds`` property: with and
without the private section, the difference being the private rules.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Final

import idna
import tldextract


class _Node:
    __slots__ = ("end", "matches", "private")

    def __init__(self) -> None:
        self.matches: dict[str, _Node] = {}
        self.end = False
        self.private = False


def _trie(public: Iterable[str], private: Iterable[str] = ()) -> _Node:
    """tldextract's ``Trie.create``: the public rules, then the private ones (which mark their nodes)."""
    root = _Node()
    for rules, is_private in ((public, False), (private, True)):
        for rule in rules:
            node = root
            for label in reversed(rule.split(".")):
                child = node.matches.get(label)
                if child is None:
                    child = node.matches[label] = _Node()
                node = child
            node.end = True
            node.private = is_private
    return root


class SuffixList:
    """The rules with the private section (what a registrant controls) and without it (ICANN only)."""

    __slots__ = ("icann", "with_private")

    def __init__(self, public: Iterable[str], private: Iterable[str]) -> None:
        """``private`` may hold public rules too (tldextract's whole list): those stay public."""
        public = frozenset(public)
        self.with_private: Final = _trie(public, frozenset(private) - public)
        self.icann: Final = _trie(public)


@functools.cache
def extractor(include_private: bool = True) -> tldextract.TLDExtract:
    """tldextract on its bundled snapshot: ``suffix_list_urls=()`` and ``cache_dir=None``, so nothing is
    fetched and nothing written, and the split is the same on every machine with this tldextract."""
    return tldextract.TLDExtract(
        cache_dir=None, suffix_list_urls=(), include_psl_private_domains=include_private
    )


@functools.cache
def suffix_list() -> SuffixList:
    """The snapshot's rules, with and without the private section, loaded once."""
    return SuffixList(extractor(include_private=False).tlds, extractor().tlds)


def preload() -> None:
    """Load the list now (about 0.1 s): a long-running worker pays it at start, not in its first batch."""
    suffix_list()


def _decoded(label: str) -> str:
    """tldextract's ``_decode_punycode`` for a lower-case label: the list writes IDN rules in Unicode."""
    if label.startswith("xn--"):
        try:
            return str(idna.decode(label))
        except (UnicodeError, IndexError):
            pass
    return label


def public_suffix(root: _Node, labels: list[str]) -> tuple[int, bool] | None:
    """(index of the first label of the public suffix, whether its rule is private), or None without one.

    ``labels`` are a host's lower-case labels, left to right (tldextract's ``suffix_index``).
    """
    node = root
    suffix_at = at = len(labels)
    private = False
    for label in reversed(labels):
        decoded = _decoded(label)
        child = node.matches.get(decoded)
        if child is not None:
            at -= 1
            node = child
            if node.end:
                suffix_at, private = at, node.private
            continue
        star = node.matches.get("*")
        if star is not None:
            return (at if "!" + decoded in node.matches else at - 1), star.private
        break
    if suffix_at == len(labels):
        return None
    return suffix_at, private


__all__ = ["SuffixList", "extractor", "preload", "public_suffix", "suffix_list"]
