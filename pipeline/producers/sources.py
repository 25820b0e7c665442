"""Input files as sources of text lines, read in bounded chunks: a million-row file never sits in memory.

A :class:`SourceFile` is a named file on disk or bytes in memory (tests, standard input under a size, the
gateway). :func:`load_source` opens one (``-`` spools standard input to a temporary file, removed at
exit, so it too is read twice without being held). :func:`text_lines` yields its decoded lines, each
ending in ``\\n`` except perhaps the last; a byte that is not UTF-8 raises :class:`InputError` naming the
line and column. Lines split on ``\\n`` only: JSON strings may hold U+2028 and other characters
``str.splitlines`` breaks on, and CSV needs its quoted ``\\r`` kept.

UTF-8 is read chunk by chunk, each chunk cut at a newline: in UTF-8 the byte 0x0a never occurs inside a
multi-byte character, so every chunk decodes on its own. UTF-16 (with a BOM, as Excel writes it) is
decoded whole: those files are spreadsheet exports, not feeds.

>>> [line for line in text_lines(SourceFile("a.csv", b"type,value\\ndomain,a.com"))]
['type,value\\n', 'domain,a.com']
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import hashlib
import io
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

import orjson

from pipeline.errors import InputError

STDIN_NAME: Final = "<stdin>"
#: Bytes read at a time (plus the rest of the line the chunk ends in).
CHUNK_BYTES: Final = 1 << 20
#: What format inference looks at.
HEAD_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class SourceFile:
    """One input: its name in messages, and either its bytes (``data``) or the file holding them."""

    name: str
    data: bytes | None = None
    path: Path | None = None
    _digest: list[str] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.data is None) == (self.path is None):
            raise ValueError("a SourceFile has either data or a path")

    def open(self) -> BinaryIO:
        """A fresh binary stream over the content, from the start."""
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None
        try:
            return self.path.open("rb")
        except OSError as exc:
            raise InputError(self.name, None, f"cannot read: {exc.strerror or exc}") from exc

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the content (part of each report's deterministic submission id), read once."""
        if not self._digest:
            digest = hashlib.sha256()
            with self.open() as stream:
                while chunk := stream.read(CHUNK_BYTES):
                    digest.update(chunk)
            self._digest.append(digest.hexdigest())
        return self._digest[0]

    def head(self, size: int = HEAD_BYTES) -> bytes:
        """The first ``size`` bytes."""
        with self.open() as stream:
            return stream.read(size)


def load_source(path: str, *, stdin: BinaryIO | None = None) -> SourceFile:
    """A :class:`SourceFile` for ``path`` (``-``: standard input); InputError when it cannot be read."""
    if path == "-":
        return _spooled_stdin(stdin if stdin is not None else sys.stdin.buffer)
    file = Path(path)
    try:
        with file.open("rb"):
            pass
    except OSError as exc:
        raise InputError(path, None, f"cannot read: {exc.strerror or exc}") from exc
    if file.is_dir():
        raise InputError(path, None, "cannot read: it is a directory")
    return SourceFile(path, path=file)


def _spooled_stdin(stream: BinaryIO) -> SourceFile:
    """Standard input in memory when small, else copied to a temporary file removed at exit."""
    first = stream.read(CHUNK_BYTES + 1)
    if len(first) <= CHUNK_BYTES:
        return SourceFile(STDIN_NAME, data=first)
    fd, name = tempfile.mkstemp(prefix="scamshare-stdin-")
    atexit.register(_remove, name)
    with os.fdopen(fd, "wb") as out:
        out.write(first)
        shutil.copyfileobj(stream, out, CHUNK_BYTES)
    return SourceFile(STDIN_NAME, path=Path(name))


def _remove(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name)


def is_utf16(head: bytes) -> bool:
    return head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def decode(data: bytes, name: str) -> str:
    """UTF-8 text (a UTF-8 BOM is dropped; UTF-16 with a BOM is accepted). InputError names the line of the
    first byte that is not UTF-8."""
    if is_utf16(data):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(name, None, f"invalid UTF-16: {exc.reason}") from exc
    return _decode_utf8(data, name, lines_before=0, first=True)


def _decode_utf8(chunk: bytes, name: str, *, lines_before: int, first: bool) -> str:
    # The BOM is dropped by hand, not by utf-8-sig, so that an error's offset is the byte's own.
    if first and chunk.startswith(codecs.BOM_UTF8):
        chunk = chunk[len(codecs.BOM_UTF8) :]
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = lines_before + chunk.count(b"\n", 0, exc.start) + 1
        column = exc.start - (chunk.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            name,
            line,
            f"not UTF-8 text: byte 0x{chunk[exc.start]:02x} at column {column}; save the file as UTF-8",
        ) from exc


def text_lines(src: SourceFile) -> Iterator[str]:
    """The decoded lines of ``src``, in bounded memory (see the module docstring)."""
    with src.open() as stream:
        first = stream.read(CHUNK_BYTES)
        if is_utf16(first):
            yield from _split(decode(first + stream.read(), src.name))
            return
        chunk, lines_before, is_first = first, 0, True
        while chunk:
            if not chunk.endswith(b"\n"):
                chunk += stream.readline()
            yield from _split(_decode_utf8(chunk, src.name, lines_before=lines_before, first=is_first))
            lines_before += chunk.count(b"\n")
            chunk, is_first = stream.read(CHUNK_BYTES), False


def _split(text: str) -> Iterator[str]:
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            if start < len(text):
                yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def load_json(text: str, name: str) -> Any:
    """Parse a whole JSON document; InputError with the line and column of a syntax error."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InputError(name, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from exc


def whole_text(src: SourceFile) -> str:
    """All of ``src`` decoded: for JSON documents, which are parsed whole anyway."""
    with src.open() as stream:
        return decode(stream.read(), src.name)


__all__ = [
    "CHUNK_BYTES",
    "STDIN_NAME",
    "SourceFile",
    "decode",
    "is_utf16",
    "load_json",
    "load_source",
    "text_lines",
    "whole_text",
]
