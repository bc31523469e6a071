"""STAR files: small tables through ``starfile``, particle tables streamed in chunks.

Class-level files (``_model.star``, ``_optimiser.star``, ``job.star``) are small and read with
``starfile``. A ``_data.star`` can hold millions of particles, so it is never loaded into a
DataFrame: :func:`scan_particles` reads the class column in one pass, and
:func:`filter_particles` copies the optics block, the header and the selected rows verbatim
(every column, original order, original number formatting, byte for byte). Both work on
chunks of whole lines with numpy (field boundaries, the class column's digits, a byte mask of
the kept rows) instead of a Python loop per line: on a 1M-particle file the scan takes 0.6 s
instead of 1.1 s and the filter 0.45 s instead of 0.7 s, and the filter holds no GIL (see
``docs/benchmarks.md``), with the same results and errors. Values are split as RELION 3.1's
``nextTokenInSTAR`` splits them: a value that starts with ``"`` or ``'`` runs to the same quote
followed by white space or the line end (so it may hold spaces), and a value starting with ``#``
begins a comment that ends the row; rows holding either go through :func:`star_values`, the others
never leave numpy. A file without ``data_optics`` (RELION 3.0 and earlier) is read as RELION 3.1
converts it: its first block (``data_`` or ``data_images``) is the particle table, the pixel size is
per particle (:func:`pixel_size_of`), and the filter keeps that format. :func:`write_table` writes
small RELION-style tables.

pandas and ``starfile`` are imported where a small table is read or written, not with this module: the
particle pass needs numpy only, so the External job runs it in a thread beside its own imports.
"""

from __future__ import annotations

import io
import linecache
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable, Iterator, Mapping, TextIO

import numpy as np

from ..errors import CryoDiscoveryError

if TYPE_CHECKING:
    import pandas as pd


def read_blocks(path: str | Path, first: int | None = None) -> "dict[str, pd.DataFrame | dict]":
    """All data blocks of a small STAR file (only its ``first`` blocks if given), by block name; a clear
    error if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CryoDiscoveryError(path, "file not found")
    if path.stat().st_size == 0:
        raise CryoDiscoveryError(path, "file is empty")
    import starfile

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            blocks = starfile.read(path, read_n_blocks=first, always_dict=True)
    except Exception as error:  # starfile raises many kinds on malformed input
        raise CryoDiscoveryError(path, f"not a readable STAR file ({type(error).__name__}: {error})") from None
    finally:  # starfile reads through linecache and clears it only on success: stale lines would outlive a failure
        linecache.clearcache()
    skipped = [str(w.message) for w in caught if "cannot be read" in str(w.message)]
    if skipped:  # starfile drops a block it cannot parse; a half-read file is not a clean read
        raise CryoDiscoveryError(path, f"not a readable STAR file ({skipped[0]})")
    if not blocks:
        raise CryoDiscoveryError(path, "no data blocks found")
    return blocks


def _as_table(table: "pd.DataFrame | dict") -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame({key: [value] for key, value in table.items()}) if isinstance(table, dict) else table


def find_table(path: str | Path, block: str | None = None, columns: tuple[str, ...] = ()) -> "pd.DataFrame":
    """A table of a small STAR file: block ``block`` if given and present, else the first one
    holding all ``columns`` (RELION's Select outputs use an unnamed ``data_`` block)."""
    blocks = read_blocks(path)
    candidates = [blocks[block]] if block is not None and block in blocks else list(blocks.values())
    for table in map(_as_table, candidates):
        if all(column in table.columns for column in columns):
            return table
    wanted = ", ".join(f"_{c}" for c in columns) or f"data_{block}"
    raise CryoDiscoveryError(path, f"has no table with {wanted}")


def read_pairs(path: str | Path, block: str) -> dict:
    """A key/value (non-loop) block, e.g. ``optimiser_general`` or ``model_general``."""
    table = read_blocks(path).get(block)
    if table is None:
        raise CryoDiscoveryError(path, f"has no data_{block} block")
    if not isinstance(table, dict):  # a loop (DataFrame)
        if len(table) != 1:
            raise CryoDiscoveryError(path, f"data_{block} should hold one set of values, has {len(table)} rows")
        return table.iloc[0].to_dict()
    return dict(table)


@dataclass
class ParticleScan:
    """What one pass over a particle STAR file found."""

    path: Path
    #: Class number of every particle row, in file order.
    class_numbers: np.ndarray
    #: Column labels of the particle table (without the leading underscore).
    columns: list[str]
    #: True when the file has a ``data_optics`` block (RELION 3.1 and later).
    has_optics: bool
    #: Name of the particle block: ``particles`` (3.1+), or RELION 3.0's first block (``""``, ``images``).
    block: str
    #: Byte offset and 1-based line number of the first particle row (-1: not recorded).
    rows_offset: int = -1
    rows_line: int = 0
    #: Byte offset just past the table's last line, and whether the table held only rows (no
    #: comment lines): then :func:`filter_particles` needs only line ends (-1: not recorded).
    rows_end: int = -1
    rows_only: bool = False
    #: Size and modification time when scanned, to notice a file changed before it is filtered.
    size: int = -1
    mtime_ns: int = -1
    #: Pixel size in A of the first particle (its optics group's, or a RELION 3.0 row's), None if not given.
    pixel_size: float | None = None

    def counts(self, n_classes: int) -> np.ndarray:
        """Particles per class 1..n_classes."""
        return np.bincount(self.class_numbers, minlength=n_classes + 1)[1 : n_classes + 1]


#: Bytes read at a time from a particle table (a chunk ends at a line end). Tests make it small.
CHUNK_BYTES = 8 << 20
#: Bytes with a value <= 32 separate fields (space, tab, CR, LF, VT, FF), as ``str.split()`` does for ASCII.
_SPACE = 32
#: Widest class number parsed without Python (digits only); others go through ``int(float(...))``.
_DIGITS = 12
#: _WEIGHTS[n, j]: the place value of digit j in an n-digit number (0 past the number).
_WEIGHTS = np.array([[10 ** (n - 1 - j) if j < n else 0 for j in range(_DIGITS)] for n in range(_DIGITS + 1)],
                    dtype=np.int64)


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
        while i < n and line[i] <= _SPACE:
            i += 1
        if i >= n or line[i] == _HASH:
            return values
        start = i
        if line[i] in _QUOTES:
            quote, pos = line[i], i + 1
            while pos < n and not (line[pos] == quote and line[pos - 1] != _BELL
                                   and (pos + 1 == n or line[pos + 1] <= _SPACE)):
                pos += 1
            if pos >= n:
                raise UnclosedQuote(f"no closing {chr(quote)} for the value at column {start + 1}")
            values.append((start, line[start + 1 : pos].replace(bytes([_BELL]), b"")))
            i = pos + 1
        else:
            while i < n and line[i] > _SPACE:
                i += 1
            values.append((start, line[start:i]))


def pixel_size_of(row: Mapping[str, object]) -> float | None:
    """Pixel size in A of one STAR row as RELION 3.1 converts it: ``rlnDetectorPixelSize`` (um) * 1e4 /
    ``rlnMagnification`` when both are given (RELION 3.0 and earlier), else ``rlnImagePixelSize``;
    None when neither gives a positive number."""

    def number(label: str) -> float | None:
        try:
            value = float(row[label])  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError):
            return None
        return value if np.isfinite(value) and value > 0 else None

    detector, magnification = number("rlnDetectorPixelSize"), number("rlnMagnification")
    if detector is not None and magnification is not None:
        return detector * 1e4 / magnification
    return number("rlnImagePixelSize")


def _header_pixel_size(header: _Header) -> float | None:
    """The first particle's pixel size: from its optics group's row (3.1+) or from the row itself (3.0)."""
    if not header.has_optics:
        return pixel_size_of(header.first_row)
    group = header.first_row.get("rlnOpticsGroup")
    rows = [row for row in header.optics_rows if row.get("rlnOpticsGroup") == group] or header.optics_rows[:1]
    return pixel_size_of(rows[0]) if rows else None


def _open_binary(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as error:
        raise CryoDiscoveryError(path, f"cannot be opened ({error.strerror})") from None


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise CryoDiscoveryError(path, "is not a text STAR file (undecodable bytes)") from None


def _is_row(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith(("#", "_", "data_", "loop_"))


@dataclass
class _Header:
    """Everything before the first particle row."""

    columns: list[str]
    has_optics: bool
    block: str
    #: Byte offset and line number of the first row; offset -1 when the table has no rows.
    rows_offset: int
    rows_line: int
    #: The first particle row and the optics rows, by column label (for :func:`pixel_size_of`).
    first_row: dict[str, str] = field(default_factory=dict)
    optics_rows: list[dict[str, str]] = field(default_factory=list)


def _row_values(columns: list[str], line: str) -> dict[str, str]:
    """One loop row by column label (empty if it cannot be split)."""
    try:
        values = star_values(line.encode("utf-8"))
    except UnclosedQuote:
        return {}
    return {column: value.decode("utf-8") for column, (_, value) in zip(columns, values)}


def _is_particle_block(block: str, index: int) -> bool:
    """The particle table is ``data_particles`` (RELION 3.1+) or, as RELION 3.1 converts a file without
    ``data_optics``, the file's first block: ``data_`` or ``data_images`` of RELION 3.0 and earlier."""
    return block in ("particles", "") or (index == 1 and block != "optics")


def _particle_header(handle: BinaryIO, path: Path) -> _Header:
    """Read lines up to the first particle row (the handle's position is then undefined)."""
    block: str | None = None
    n_blocks = 0
    has_optics = False
    columns: list[str] = []
    optics_rows: list[dict[str, str]] = []
    in_loop = False
    offset = 0
    line_number = 0
    for raw in handle:
        line_number += 1
        line = _decode(raw, path)
        stripped = line.strip()
        if stripped.startswith("data_"):
            block = stripped[5:]
            n_blocks += 1
            has_optics |= block == "optics"
            columns, in_loop = [], False
        elif stripped.startswith("loop_"):
            in_loop = True
        elif stripped.startswith("_") and in_loop:
            columns.append(stripped.split()[0][1:])
        elif _is_row(line) and block is not None and in_loop and columns:
            if _is_particle_block(block, n_blocks):
                return _Header(columns, has_optics, block, offset, line_number, _row_values(columns, line),
                               optics_rows)
            if block == "optics":
                optics_rows.append(_row_values(columns, line))
        offset += len(raw)
    if block is None:
        raise CryoDiscoveryError(path, "not a STAR file (no data_ block)")
    if not (_is_particle_block(block, n_blocks) and columns):
        raise CryoDiscoveryError(path, "has no particle table (data_particles, or RELION 3.0's data_images)")
    return _Header(columns, has_optics, block, -1, line_number + 1, {}, optics_rows)


@dataclass
class _Chunk:
    """Whole lines of a particle table read at once (positions index ``data``)."""

    data: np.ndarray  # the chunk's bytes as uint8
    starts: np.ndarray  # first byte of each particle row
    ends: np.ndarray  # one past the row's last byte (its newline included)
    line_numbers: np.ndarray  # 1-based line number of each row in the file
    #: Set by :func:`_parse_rows` only (the filter's line-only path leaves them empty).
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
    space = data <= _SPACE
    field_start = np.empty(len(data), dtype=bool)
    if len(data):
        field_start[0] = not space[0]
        np.less(space[1:], space[:-1], out=field_start[1:])
    return field_start


def _table_rows(data: np.ndarray, first_line: int, line_starts: np.ndarray, line_ends: np.ndarray,
                field_start: np.ndarray) -> _Chunk:
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
    return _Chunk(
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


def _split_quoted_rows(chunk: _Chunk, field_start: np.ndarray, path: Path) -> bool:
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


def _parse_rows(data: np.ndarray, first_line: int, path: Path, marks: bool = True) -> _Chunk:
    """Rows of a chunk as RELION reads them; ``marks`` False says the chunk holds no quote or
    ``#`` byte, so no row needs :func:`star_values`."""
    line_starts, line_ends = _lines(data)
    field_start = _field_start_mask(data)
    chunk = _table_rows(data, first_line, line_starts, line_ends, field_start)
    if marks and _split_quoted_rows(chunk, field_start, path):
        chunk = _table_rows(data, first_line, line_starts, line_ends, field_start)
    return chunk


def _split_rows(data: np.ndarray, first_line: int, path: Path, marks: bool = True) -> _Chunk:
    """Every line of the chunk is a row (the scan found no comment lines in this part): only line
    ends are needed, so quotes do not matter."""
    starts, ends = _lines(data)
    lines = first_line + np.arange(len(starts))
    return _Chunk(data, starts, ends, lines, n_lines=len(starts), n_bytes=len(data))


def _chunks(
    handle: BinaryIO, first_line: int, path: Path, stop: int = -1, parse: Callable = _parse_rows
) -> Iterator[_Chunk]:
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
            _decode(bytes(view), path)  # only a strict decode says whether the bytes are valid UTF-8
        # memchr, ~0.3 ms per 8 MB each; the line-only filter path never needs values
        marks = parse is not _split_rows and any(raw.find(mark, 0, cut) >= 0 for mark in _MARK_BYTES)
        chunk = parse(np.frombuffer(view, dtype=np.uint8), line, path, marks)
        yield chunk
        if chunk.ended or at_end:
            return
        line += chunk.n_lines


def _class_values(chunk: _Chunk, index: int, path: Path, class_column: str) -> np.ndarray:
    """The ``index``-th value of every row as an integer (``int(float(text))``, as before)."""
    starts = chunk.field_starts[chunk.first_field + index]
    last = len(chunk.data) - 1
    window = chunk.data[np.minimum(starts[:, None] + np.arange(_DIGITS + 1), last)]
    digit = (window >= ord("0")) & (window <= ord("9"))
    length = np.argmin(digit, axis=1)  # digits before the first non-digit (0 if none, or all 13)
    plain = (length > 0) & (window[np.arange(len(starts)), length] <= _SPACE) & (starts + length <= last)
    digits = window[:, :_DIGITS].astype(np.int64) - ord("0")
    values = (digits * _WEIGHTS[np.minimum(length, _DIGITS)]).sum(axis=1)
    ends = chunk.ends
    for i in np.flatnonzero(~plain):  # signs, decimals, exponents, quotes, garbage: the exact way
        text = star_values(bytes(chunk.data[int(starts[i]) : int(ends[i])]))[0][1].decode("utf-8")
        try:
            values[i] = int(float(text))
        except (ValueError, OverflowError):
            message = f"line {chunk.line_numbers[i]}: _{class_column} is not a number"
            raise CryoDiscoveryError(path, message) from None
    return values


def _stat(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def particle_columns(path: str | Path) -> list[str]:
    """Column labels of a particle STAR file's particle table (reads the header only)."""
    path = Path(path)
    if not path.is_file():
        raise CryoDiscoveryError(path, "file not found")
    with _open_binary(path) as handle:
        return list(_particle_header(handle, path).columns)


def scan_particles(path: str | Path, class_column: str = "rlnClassNumber") -> ParticleScan:
    """One streaming pass: the class number of every particle.

    Rows are read a chunk of whole lines at a time and parsed with numpy (field boundaries, then
    the class column's digits); a value that is not plain digits goes through ``int(float(...))``.
    """
    path = Path(path)
    if not path.is_file():
        raise CryoDiscoveryError(path, "file not found")
    size, mtime_ns = _stat(path)
    parts: list[np.ndarray] = []
    rows_end, comments = -1, False
    with _open_binary(path) as handle:
        header = _particle_header(handle, path)
        if class_column not in header.columns:
            raise CryoDiscoveryError(path, f"particle table has no _{class_column} column")
        index = header.columns.index(class_column)
        n_columns = len(header.columns)
        if header.rows_offset >= 0:
            handle.seek(header.rows_offset)
            rows_end = header.rows_offset
            for chunk in _chunks(handle, header.rows_line, path):
                wrong = np.flatnonzero(chunk.n_fields != n_columns)
                if len(wrong):
                    i = wrong[0]
                    raise CryoDiscoveryError(
                        path,
                        f"line {chunk.line_numbers[i]}: {chunk.n_fields[i]} values for {n_columns} columns "
                        "(truncated or corrupt?)",
                    )
                parts.append(_class_values(chunk, index, path, class_column))
                rows_end += chunk.n_bytes
                comments |= chunk.comments
    numbers = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if not len(numbers):
        raise CryoDiscoveryError(path, "particle table has no rows")
    return ParticleScan(path, numbers, header.columns, header.has_optics, header.block,
                        header.rows_offset, header.rows_line, rows_end, not comments, size, mtime_ns,
                        _header_pixel_size(header))


def _byte_writer(out: TextIO | BinaryIO) -> Callable[[bytes], object]:
    """Write bytes to a binary handle, a UTF-8 text file's buffer (after flushing it) or a text stream."""
    if isinstance(out, io.TextIOBase):
        buffer = getattr(out, "buffer", None)
        if buffer is not None and (getattr(out, "encoding", "") or "").lower().replace("-", "") == "utf8":
            out.flush()
            return buffer.write
        return lambda data: out.write(data.decode("utf-8"))
    return out.write


def _kept_bytes(chunk: _Chunk, chosen: np.ndarray) -> bytes:
    """The chosen rows of a chunk, verbatim and in order (a byte mask: numpy, no Python loop, so
    it runs beside other threads without holding the GIL)."""
    n = len(chunk.starts)
    bounds = np.empty(2 * n + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, len(chunk.data)
    bounds[1:-1:2], bounds[2:-1:2] = chunk.starts, chunk.ends
    flags = np.zeros(2 * n + 1, dtype=bool)
    flags[1::2] = chosen
    return chunk.data[np.repeat(flags, np.diff(bounds))].tobytes()


def filter_particles(scan: ParticleScan, keep_classes: Iterable[int], out: TextIO | BinaryIO) -> int:
    """Copy the file verbatim, keeping only particle rows of ``keep_classes``; returns rows written.

    The header (optics block included) and the kept rows are copied byte for byte, a chunk at a
    time; comment lines inside the table and anything after it are dropped, and a last row
    without a newline gets one.
    """
    keep_classes = list(keep_classes)
    keep = np.zeros(max(int(scan.class_numbers.max()), max(keep_classes, default=0)) + 1, dtype=bool)
    keep[keep_classes] = True
    row_keep = keep[scan.class_numbers]
    write = _byte_writer(out)
    path = scan.path
    changed = CryoDiscoveryError(path, "changed since it was scanned at the start of the job; "
                                       "run the job again")
    with _open_binary(path) as handle:
        if scan.rows_offset >= 0 and scan.size >= 0:
            if _stat(path) != (scan.size, scan.mtime_ns):
                raise changed
            offset, line, stop = scan.rows_offset, scan.rows_line, scan.rows_end
            parse = _split_rows if scan.rows_only and stop >= 0 else _parse_rows
        else:  # a scan made by hand, without offsets: find the rows again
            header = _particle_header(handle, path)
            offset, line, stop, parse = header.rows_offset, header.rows_line, -1, _parse_rows
        handle.seek(0)
        write(handle.read(offset))
        done = written = 0
        for chunk in _chunks(handle, line, path, stop=stop if parse is _split_rows else -1, parse=parse):
            n = len(chunk.starts)
            if done + n > len(row_keep):
                raise changed
            chosen = row_keep[done : done + n]
            done += n
            if chosen.any():
                payload = _kept_bytes(chunk, chosen)
                write(payload if payload.endswith(b"\n") else payload + b"\n")
                written += int(np.count_nonzero(chosen))
        if done != len(row_keep):
            raise changed
    write(b"\n")
    return written


def format_value(value: object) -> str:
    """A value as RELION writes it (floats with 6 decimals, ints plain, strings as-is)."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "nan" if np.isnan(value) else ("inf" if value > 0 else "-inf")
        return f"{float(value):.6f}" if 1e-4 <= abs(value) < 1e9 or value == 0 else f"{float(value):.6e}"
    text = str(value)
    return text if text and not any(ch.isspace() for ch in text) else f'"{text}"'


def format_rows(table: "pd.DataFrame") -> str:
    """Loop rows in RELION's layout, one per line (vectorised: fast for large simulated tables)."""
    if table.empty:
        return ""
    columns = [table[column].map(format_value) for column in table.columns]
    return "".join(" ".join(values) + " \n" for values in zip(*columns))


def write_table(out: TextIO, block: str, table: "pd.DataFrame", version: int | None = 30001) -> None:
    """Write one loop table in RELION's layout (no blank lines inside the loop)."""
    if version is not None:
        out.write(f"\n# version {version}\n")
    out.write(f"\ndata_{block}\n\nloop_ \n")
    for i, column in enumerate(table.columns, start=1):
        out.write(f"_{column} #{i} \n")
    out.write(format_rows(table))
    out.write("\n")


def write_pairs(out: TextIO, block: str, values: dict, version: int | None = 30001) -> None:
    """Write a key/value block in RELION's layout."""
    if version is not None:
        out.write(f"\n# version {version}\n")
    out.write(f"\ndata_{block}\n\n")
    for key, value in values.items():
        out.write(f"_{key:<40} {format_value(value):>12}\n")
    out.write("\n")
