"""Every comparison of a full STIX 2.1 pattern, as the disjunctions of conjunctions it means.

Producers export patterns such as ``[domain-name:value = 'a.com' OR domain-name:value = 'b.com']``,
``[email-message:from_ref.value = 'x@evil.com' AND email-message:subject = 'Invoice']`` or several
observations joined by ``OR``/``FOLLOWEDBY`` with qualifiers. :func:`pattern_conjunctions` parses the whole
STIX 2.1 pattern grammar (observation operators, parentheses, qualifiers, ``NOT``, every comparison
operator, ``IN`` lists, property paths with references, indexes and quoted keys) and returns, per
observation, the pattern in disjunctive normal form: a list of conjunctions, each a list of
:class:`Atom`. An ``IN ('a', 'b')`` list is read as ``= 'a' OR = 'b'``.

What the exchange carries is decided above this module (:mod:`pipeline.producers.stix_input`): here a
pattern is only parsed, never judged. The hot path (the worker) keeps the one-pass subset parser of
:mod:`pipeline.stix.pattern`. Malformed text gives a reason string; nothing raises.

>>> [[a.path for a in c] for c in pattern_conjunctions("[url:value = 'a' OR url:value = 'b']")[0]]
[[('value',)], [('value',)]]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

#: A pattern whose normal form has more conjunctions than this is refused (``(a OR b) AND (c OR d) ...``
#: doubles with every factor).
MAX_CONJUNCTIONS: Final = 1024
MAX_PATTERN_LENGTH: Final = 65536

_TOKEN: Final = re.compile(
    r"""\s*(?:
      (?P<str>[tbh]?'(?:[^'\\]|\\.)*')
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<op>!=|<>|<=|>=|=|<|>)
    | (?P<punct>[\[\]\(\),:.*])
    | (?P<word>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.VERBOSE,
)
_WORD_OPERATORS: Final = frozenset({"LIKE", "MATCHES", "IN", "ISSUBSET", "ISSUPERSET"})
_QUALIFIER_WORDS: Final = frozenset({"WITHIN", "REPEATS", "START", "STOP", "SECONDS", "TIMES"})


@dataclass(frozen=True, slots=True)
class Atom:
    """One comparison: ``sco_type:path op value``; ``path`` is the property path, ``('from_ref', 'value')``.

    ``value`` is the literal's text (strings unescaped) and ``literal`` its kind: ``string``, ``number``,
    ``timestamp``, ``binary``, ``hex``, ``bool`` or ``none`` (``EXISTS``). Indexes appear in the path as
    ``[*]`` or ``[0]``.
    """

    sco_type: str
    path: tuple[str, ...]
    op: str
    value: str
    literal: str
    negated: bool = False

    @property
    def text(self) -> str:
        """How a message names it: ``file:hashes.SHA-256``."""
        return f"{self.sco_type}:{'.'.join(self.path)}"


Conjunction = tuple[Atom, ...]


class _Reject(Exception):  # noqa: N818 - internal control flow, never escapes this module
    pass


class _Tokens:
    __slots__ = ("pos", "tokens")

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                if text[pos:].strip():
                    raise _Reject(f"invalid pattern: unexpected {text[pos : pos + 10]!r} at offset {pos}")
                break
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        kind, text = self.take()
        if text != value or kind == "str":
            raise _Reject(f"invalid pattern: expected {value!r}, found {text or 'the end'!r}")

    def word(self, *words: str) -> bool:
        kind, text = self.peek()
        if kind == "word" and text in words:
            self.pos += 1
            return True
        return False


def pattern_conjunctions(pattern: str) -> list[list[Conjunction]] | str:
    """Per observation of ``pattern``, its conjunctions of atoms; or a reason when it is malformed."""
    if not isinstance(pattern, str) or not pattern.strip():
        return "invalid pattern: empty"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"invalid pattern: longer than {MAX_PATTERN_LENGTH} characters"
    try:
        tokens = _Tokens(pattern)
        observations: list[list[Conjunction]] = []
        _observation_expression(tokens, observations)
        _end(tokens)
    except _Reject as rejected:
        return str(rejected)
    except RecursionError:
        return "invalid pattern: nested too deeply"
    return observations


def _end(t: _Tokens) -> None:
    if t.peek()[0] != "end":
        raise _Reject(f"invalid pattern: unexpected {t.peek()[1]!r} after the pattern")


def _observation_expression(t: _Tokens, out: list[list[Conjunction]]) -> None:
    _observation(t, out)
    while t.word("AND", "OR", "FOLLOWEDBY"):
        _observation(t, out)


def _observation(t: _Tokens, out: list[list[Conjunction]]) -> None:
    kind, text = t.peek()
    if text == "[" and kind == "punct":
        t.take()
        out.append(_or(t))
        t.expect("]")
    elif text == "(" and kind == "punct":
        t.take()
        _observation_expression(t, out)
        t.expect(")")
    else:
        raise _Reject(f"invalid pattern: expected '[' or '(', found {text or 'the end'!r}")
    _qualifiers(t)


def _qualifiers(t: _Tokens) -> None:
    while True:
        kind, text = t.peek()
        if kind != "word" or text not in _QUALIFIER_WORDS:
            return
        t.take()
        if text in ("WITHIN", "REPEATS"):
            if t.take()[0] != "num" or not t.word("SECONDS", "TIMES"):
                raise _Reject(f"invalid pattern: {text} needs a number and SECONDS or TIMES")
        elif text in ("START", "STOP"):
            if not t.take()[1].startswith("t'"):
                raise _Reject(f"invalid pattern: {text} needs a t'...' timestamp")
        else:
            raise _Reject(f"invalid pattern: unexpected {text}")


def _or(t: _Tokens) -> list[Conjunction]:
    result = _and(t)
    while t.word("OR"):
        result = result + _and(t)
        if len(result) > MAX_CONJUNCTIONS:
            raise _Reject(f"unsupported pattern: more than {MAX_CONJUNCTIONS} alternatives")
    return result


def _and(t: _Tokens) -> list[Conjunction]:
    result = _term(t)
    while t.word("AND"):
        right = _term(t)
        if len(result) * len(right) > MAX_CONJUNCTIONS:
            raise _Reject(f"unsupported pattern: more than {MAX_CONJUNCTIONS} alternatives")
        result = [left + other for left in result for other in right]
    return result


def _term(t: _Tokens) -> list[Conjunction]:
    kind, text = t.peek()
    if kind == "punct" and text == "(":
        t.take()
        inner = _or(t)
        t.expect(")")
        return inner
    if t.word("EXISTS"):
        sco_type, path = _path(t)
        return [(Atom(sco_type, path, "EXISTS", "", "none"),)]
    sco_type, path = _path(t)
    negated = t.word("NOT")
    op_kind, op = t.take()
    if op_kind == "word" and op in _WORD_OPERATORS:
        pass
    elif op_kind != "op":
        raise _Reject(f"invalid pattern: expected a comparison operator after {sco_type}:{'.'.join(path)}")
    if op == "IN":
        values = _set(t)
        if len(values) > MAX_CONJUNCTIONS:
            raise _Reject(f"unsupported pattern: more than {MAX_CONJUNCTIONS} alternatives")
        return [(Atom(sco_type, path, "=", value, literal, negated),) for value, literal in values]
    value, literal = _literal(t)
    return [(Atom(sco_type, path, op, value, literal, negated),)]


def _path(t: _Tokens) -> tuple[str, tuple[str, ...]]:
    kind, sco_type = t.take()
    if kind != "word":
        raise _Reject(f"invalid pattern: expected an object type, found {sco_type or 'the end'!r}")
    t.expect(":")
    path: list[str] = [_path_part(t)]
    while True:
        kind, text = t.peek()
        if kind == "punct" and text == ".":
            t.take()
            path.append(_path_part(t))
        elif kind == "punct" and text == "[" and t.pos + 2 < len(t.tokens) and t.tokens[t.pos + 2][1] == "]":
            t.take()
            index = t.take()[1]
            t.expect("]")
            path.append(f"[{index}]")
        else:
            return sco_type, tuple(path)


def _path_part(t: _Tokens) -> str:
    kind, text = t.take()
    if kind == "word":
        return text
    if kind == "str" and text.startswith("'"):
        return _unescape(text)
    raise _Reject(f"invalid pattern: expected a property name, found {text or 'the end'!r}")


def _set(t: _Tokens) -> list[tuple[str, str]]:
    t.expect("(")
    values = [_literal(t)]
    while t.peek() == ("punct", ","):
        t.take()
        values.append(_literal(t))
    t.expect(")")
    return values


def _literal(t: _Tokens) -> tuple[str, str]:
    kind, text = t.take()
    if kind == "num":
        return text, "number"
    if kind == "word" and text in ("true", "false"):
        return text, "bool"
    if kind == "str":
        prefix = {"t": "timestamp", "b": "binary", "h": "hex"}.get(text[0], "string")
        return _unescape(text if prefix == "string" else text[1:]), prefix
    raise _Reject(f"invalid pattern: expected a literal, found {text or 'the end'!r}")


def _unescape(quoted: str) -> str:
    body = quoted[1:-1]
    if "\\" not in body:
        return body
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\":
            if i + 1 >= len(body) or body[i + 1] not in "'\\":
                raise _Reject(f"invalid pattern: unknown escape in string literal {quoted[:40]!r}")
            out.append(body[i + 1])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


__all__ = ["MAX_CONJUNCTIONS", "Atom", "Conjunction", "pattern_conjunctions"]
