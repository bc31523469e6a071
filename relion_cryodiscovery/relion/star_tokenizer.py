"""RELION's STAR tokenizer: one loop row split as RELION splits it, and a particle table cut into
chunks of whole lines whose rows and fields are found with numpy.

:func:`star_values` splits one row exactly as RELION 3.1.3's ``nextTokenInSTAR`` does: values are
separated by white space; a value that starts with ``"`` or ``'`` runs to the same quote followed by
white space or the line end (so it may hold spaces); a value starting with ``#`` begins a comment that
ends the row. :func:`read_chunks` reads a table a chunk of whole lines at a time and :func:`parse_rows`
finds its rows and field starts with numpy (byte masks, no Python loop per line); only rows holding a
quote or ``#`` go through :func:`star_values`. The particle reader and filter
(:mod:`.star_particles`) are built on these.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np

from ..errors import CryoDiscoveryError

#: Bytes read at a time from a particle table (a chunk ends at a line end). Tests make it small. The
#: numpy work on a chunk holds ~5x its size at once: 4 MB keeps a 1M-particle job ~20 MB under what
#: 8 MB did, at the same speed (docs/benchmarks.md, issue #21).
CHUNK_BYTES = 4 << 20
#: Bytes with a value <= 32 separate fields (space, tab, CR, LF, VT, FF), as ``str.split()`` does for ASCII.
SPACE = 32
#: Bytes that open a quoted value, and the comment mark, at the start of a value.
_QUOTES = (ord('"'), ord("'"))
_HASH = ord("#")
#: Bytes that send a row through :func:`star_values` when they start a value.
_MARK_BYTES = (b'"', b"'", b"#")
_MARKS = np.frombuffer(b"".join(_MARK_BYTES), dtype=np.uint8)
#: RELION's escape: a quote right after BEL does not close the value, and BEL is dropped from it.
_BELL = 7


class UnclosedQuote(ValueError):
    """A quoted STAR value with no closing quote on its line (RELION stops on it too)."""


def star_values(line: bytes) -> list[tuple[int, bytes]]:
    """(offset, value) of each value of one STAR loop row, split exactly as RELION 3.1.3's
    ``nextTokenInSTAR`` (``src/strings.cpp``) splits it.

    Values are separated by white space (any byte <= 32, as in the scanner). A value that starts
    with ``"`` or ``'`` ends at the same quote followed by white space or the end of the line, so
    ``"my dir/mic.mrc"`` is one value and a quote inside (``"it"s"``) is kept; a quote after a BEL
    byte (RELION's escape) does not end it and BEL bytes are dropped. A value starting with ``#``
    starts a comment: it and the rest of the line are not values. Raises :class:`UnclosedQuote`.
    """
    values: list[tuple[int, bytes]] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] <= SPACE:
            i += 1
        if i >= n or line[i] == _HASH:
            return values
        start = i
        if line[i] in _QUOTES:
            quote, pos = line[i], i + 1
            while pos < n and not (line[pos] == quote and line[pos - 1] != _BELL
                                   and (pos + 1 == n or line[pos + 1] <= SPACE)):
                pos += 1
            if pos >= n:
                raise UnclosedQuote(f"no closing {chr(quote)} for the value at column {start + 1}")
            values.append((start, line[start + 1 : pos].replace(bytes([_BELL]), b"")))
            i = pos + 1
        else:
            while i < n and line[i] > SPACE:
                i += 1
            values.append((start, line[start:i]))


def decode_text(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise CryoDiscoveryError(path, "is not a text STAR file (undecodable bytes)") from None


@dataclass
class Chunk:
    """Whole lines of a particle table read at once (positions index ``data``)."""

    data: np.ndarray  # the chunk's bytes as uint8
    starts: np.ndarray  # first byte of each particle row
    ends: np.ndarray  # one past the row's last byte (its newline included)
    line_numbers: np.ndarray  # 1-based line number of each row in the file
    #: Set by :func:`parse_rows` only (the filter's line-only path leaves them empty).
    n_fields: np.ndarray | None = None
    field_starts: np.ndarray | None = None
    first_field: np.ndarray | None = None
    #: Lines consumed, bytes consumed (to the end of the table's last line), the table ended here,
    #: and whether comment lines were skipped.
    n_lines: int = 0
    n_bytes: int = 0
    ended: bool = False
    comments: bool = False


def _lines(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of every line of ``data`` (the last may lack its newline)."""
    newlines = np.flatnonzero(data == 10)
    ends = newlines + 1
    if len(ends) == 0 or ends[-1] != len(data):
        ends = np.append(ends, len(data))
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1]
    return starts, ends


def _field_start_mask(data: np.ndarray) -> np.ndarray:
    """True at the first byte of every white-space separated field (a byte that is not space
    after one that is)."""
    space = data <= SPACE
    field_start = np.empty(len(data), dtype=bool)
    if len(data):
        field_start[0] = not space[0]
        np.less(space[1:], space[:-1], out=field_start[1:])
    return field_start


def _table_rows(data: np.ndarray, first_line: int, line_starts: np.ndarray, line_ends: np.ndarray,
                field_start: np.ndarray) -> Chunk:
    """Rows of a chunk from its lines and field starts: comment lines are skipped; a blank line,
    ``data_``, ``loop_`` or ``_label`` ends the table."""
    field_starts = np.flatnonzero(field_start)
    first_field = np.searchsorted(field_starts, line_starts)
    # a line ends where the next begins, and the last at the chunk's end: one search serves both
    n_fields = np.diff(first_field, append=len(field_starts))
    last = len(data) - 1
    if len(field_starts):
        lead = data[field_starts[np.minimum(first_field, len(field_starts) - 1)]]
    else:
        lead = np.zeros(len(line_starts), dtype=np.uint8)
    end = (n_fields == 0) | (lead == ord("_"))
    for word in (b"data_", b"loop_"):
        candidates = np.flatnonzero((lead == word[0]) & (n_fields > 0))
        if len(candidates):
            at = np.minimum(field_starts[first_field[candidates]][:, None] + np.arange(len(word)), last)
            end[candidates[(data[at] == np.frombuffer(word, dtype=np.uint8)).all(axis=1)]] = True
    stop = np.flatnonzero(end)
    n_lines = int(stop[0]) if len(stop) else len(line_starts)
    rows = np.flatnonzero(lead[:n_lines] != ord("#"))
    return Chunk(
        data=data,
        starts=line_starts[rows],
        ends=line_ends[rows],
        line_numbers=first_line + rows,
        n_fields=n_fields[rows],
        field_starts=field_starts,
        first_field=first_field[rows],
        n_lines=n_lines,
        n_bytes=int(line_ends[n_lines - 1]) if n_lines else 0,
        ended=len(stop) > 0,
        comments=len(rows) < n_lines,
    )


def _split_quoted_rows(chunk: Chunk, field_start: np.ndarray, path: Path) -> bool:
    """Set ``field_start`` of every row with a value starting with a quote or ``#`` to the values
    :func:`star_values` finds; True if any row changed."""
    starts = chunk.field_starts
    marked = starts[starts < chunk.n_bytes]
    marked = marked[np.isin(chunk.data[marked], _MARKS)]
    row = np.searchsorted(chunk.starts, marked, side="right") - 1
    inside = (row >= 0) & (marked < chunk.ends[np.maximum(row, 0)])  # not in a skipped comment line
    rows = np.unique(row[inside])
    for i in rows:
        begin, end = int(chunk.starts[i]), int(chunk.ends[i])
        try:
            values = star_values(bytes(chunk.data[begin:end]))
        except UnclosedQuote as error:
            raise CryoDiscoveryError(path, f"line {chunk.line_numbers[i]}: {error}") from None
        field_start[begin:end] = False
        field_start[[begin + offset for offset, _ in values]] = True
    return len(rows) > 0


def parse_rows(data: np.ndarray, first_line: int, path: Path, marks: bool = True) -> Chunk:
    """Rows of a chunk as RELION reads them; ``marks`` False says the chunk holds no quote or
    ``#`` byte, so no row needs :func:`star_values`."""
    line_starts, line_ends = _lines(data)
    field_start = _field_start_mask(data)
    chunk = _table_rows(data, first_line, line_starts, line_ends, field_start)
    if marks and _split_quoted_rows(chunk, field_start, path):
        chunk = _table_rows(data, first_line, line_starts, line_ends, field_start)
    return chunk


def split_rows(data: np.ndarray, first_line: int, path: Path, marks: bool = True) -> Chunk:
    """Every line of the chunk is a row (the scan found no comment lines in this part): only line
    ends are needed, so quotes do not matter."""
    starts, ends = _lines(data)
    lines = first_line + np.arange(len(starts))
    return Chunk(data, starts, ends, lines, n_lines=len(starts), n_bytes=len(data))


def read_chunks(
    handle: BinaryIO, first_line: int, path: Path, stop: int = -1, parse: Callable = parse_rows
) -> Iterator[Chunk]:
    """The particle table from the handle's position, a chunk of whole lines at a time, until the
    table ends (or, for ``stop`` >= 0, until that byte offset)."""
    line = first_line
    want = CHUNK_BYTES
    while True:
        if stop >= 0:
            want = min(want, stop - handle.tell())
            if want <= 0:
                return
        raw = handle.read(want)
        if not raw:
            return
        cut = len(raw)
        at_end = len(raw) < want or (stop >= 0 and handle.tell() >= stop)
        if not at_end:
            cut = raw.rfind(b"\n") + 1
            if cut == 0:  # a line longer than a chunk: read more at once
                handle.seek(-len(raw), 1)
                want *= 2
                continue
            handle.seek(cut - len(raw), 1)
        view = memoryview(raw)[:cut]
        if not raw.isascii():
            decode_text(bytes(view), path)  # only a strict decode says whether the bytes are valid UTF-8
        # memchr, ~0.15 ms per 4 MB each; the line-only filter path never needs values
        marks = parse is not split_rows and any(raw.find(mark, 0, cut) >= 0 for mark in _MARK_BYTES)
        chunk = parse(np.frombuffer(view, dtype=np.uint8), line, path, marks)
        yield chunk
        if chunk.ended or at_end:
            return
        line += chunk.n_lines
