"""Read result files back from a sandbox's output folder without trusting the folder.

Everything under a run's ``/out`` was written by untrusted code, which may have planted a
symlink (``results.json -> /etc/shadow``), a hard link to another file of the output folder, a
FIFO that blocks the reader forever, a device node, or a multi-gigabyte file. The reader here:

1. opens the name relative to the output folder's descriptor with ``O_NOFOLLOW | O_NOCTTY |
   O_NONBLOCK`` (a FIFO cannot block, a final-component symlink fails with ``ELOOP``), and
   refuses names with a ``/``, so no intermediate symlink is ever walked either;
2. ``fstat``\\ s the open descriptor (no race between check and use): regular files only,
   ``st_nlink == 1``, at most ``max_bytes``;
3. reads at most ``max_bytes + 1`` bytes (the file may grow after the ``fstat``), decodes
   strict UTF-8, parses JSON (constants such as ``NaN`` refused), and validates it against the
   caller's JSON Schema.

Every refusal is a :class:`ResultFileError` naming the file and the reason, so a report can say
"results.json: is a symbolic link (refused)" instead of a stack trace.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO, Mapping

from stratforge.core.errors import GeneratedCodeError
import jsonschema

DEFAULT_MAX_BYTES = 8 * 1024 * 1024


class ResultFileError(GeneratedCodeError):
    """A result file that cannot be trusted or parsed. The run's output is a fault of the
    generated code (or an attack), not of the host: report it, never retry blindly."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"result file {name!r}: {reason}")
        self.name = name
        self.reason = reason


def _kind(mode: int) -> str:
    for test, word in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return word
    return "not a regular file"


def open_result(out_dir: Path, name: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> BinaryIO:
    """A binary file object over ``out_dir/name`` if it is a plain, single-link regular file
    within ``max_bytes``: never through a symlink, never a FIFO, device or hard link."""
    if not name or "/" in name or name in (".", "..") or "\0" in name:
        raise ResultFileError(name, "must be a plain file name inside the output folder")
    if max_bytes <= 0:
        raise ValueError("Condition failed: max_bytes must be > 0")
    try:
        dir_fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        raise ResultFileError(name, f"output folder cannot be opened ({err.strerror})") from None
    try:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NOCTTY | os.O_NONBLOCK
                         | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise ResultFileError(name, "is a symbolic link (refused)") from None
            if err.errno == errno.ENOENT:
                raise ResultFileError(name, "is missing") from None
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                raise ResultFileError(name, f"is {_kind(st.st_mode)} (refused)") from None
            except OSError:
                pass
            raise ResultFileError(name, f"cannot be opened ({err.strerror})") from None
    finally:
        os.close(dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ResultFileError(name, f"is {_kind(st.st_mode)} (refused)")
        if st.st_nlink != 1:
            raise ResultFileError(name, f"has {st.st_nlink} hard links (refused: it may "
                                        "alias another file)")
        if st.st_size > max_bytes:
            raise ResultFileError(name, f"is {st.st_size:,} bytes, over the cap of "
                                        f"{max_bytes:,}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_result_bytes(out_dir: Path, name: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of ``out_dir/name`` if it is a plain, single-link, small regular file."""
    with open_result(out_dir, name, max_bytes=max_bytes) as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ResultFileError(name, f"grew beyond the cap of {max_bytes:,} bytes while being read")
    return data


def _no_constants(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON")


def read_result_json(out_dir: Path, name: str, schema: Mapping[str, Any] | None = None, *,
                     max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Parse ``out_dir/name`` as strict UTF-8 JSON and validate it against ``schema``.

    ``schema`` is a JSON Schema (draft 2020-12 unless it names another ``$schema``); ``None``
    skips validation, which only trusted callers that validate themselves should do.
    """
    raw = read_result_bytes(out_dir, name, max_bytes=max_bytes)
    try:
        text = raw.decode("utf-8", "strict")
    except UnicodeDecodeError as err:
        raise ResultFileError(name, f"is not UTF-8 (byte {err.start})") from None
    try:
        doc = json.loads(text, parse_constant=_no_constants)
    except (json.JSONDecodeError, ValueError, RecursionError) as err:
        raise ResultFileError(name, f"is not valid JSON ({err})") from None
    if schema is not None:
        validate(name, doc, schema)
    return doc


def validate(name: str, doc: Any, schema: Mapping[str, Any]) -> None:
    """Raise :class:`ResultFileError` listing every schema violation with its JSON path."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as err:
        raise ValueError(f"Condition failed: the result schema is invalid: {err.message}") from None
    errors = sorted(cls(schema).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        parts = [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
                 for e in errors[:20]]
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        raise ResultFileError(name, "does not match the schema: " + "; ".join(parts) + more)
