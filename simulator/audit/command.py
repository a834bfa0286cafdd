"""Reading what an audit needs from files: the journal, and the limits of ``--thresholds``.

A journal that holds no chat request (missing, empty, not JSON lines, or only other paths) and
a thresholds file that does not validate are errors the CLI exits 2 on; :class:`AuditInputError`
says which file and what was expected.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from mock_provider.journal import JournalEntry, read_journal
from simulator.audit.findings import AuditLimits
from simulator.audit.grouping import CHAT_PATHS

__all__ = ["AuditInputError", "load_journal", "load_limits"]


class AuditInputError(Exception):
    """An input the audit cannot use; ``str()`` names the file and what was expected."""


def load_journal(path: str | Path, offset: int = 0) -> list[JournalEntry]:
    """Every entry of the journal at ``path`` (from byte ``offset``); an
    :class:`AuditInputError` saying "no requests in the journal" when it holds no chat
    request: a missing file, an empty one, one with no journal line, or one whose client never
    reached a chat route. A green audit of nothing would pass a mistyped ``--request-log``."""
    p = Path(path)
    none = f"{p}: no requests in the journal"
    if not p.is_file():
        what = "not a file" if p.exists() else "no such file"
        raise AuditInputError(f"{p}: {what}: no requests in the journal (write one with "
                              "stampede serve --request-log FILE)")  # fmt: skip
    try:
        entries = list(read_journal(p, offset))
    except OSError as exc:
        raise AuditInputError(f"{none}: cannot read it: {exc}") from exc
    if not entries:
        size = p.stat().st_size - offset
        why = "the file is empty" if size <= 0 else "no line is a journal entry (JSON lines)"
        raise AuditInputError(f"{none}: {why}; did the client reach the mock?")
    if not any(e.path in CHAT_PATHS for e in entries):
        raise AuditInputError(f"{none}: {len(entries)} lines, none a chat request "
                              f"({', '.join(sorted(CHAT_PATHS))}); did the client reach "
                              "the mock?")  # fmt: skip
    return entries


def load_limits(path: str | Path | None) -> AuditLimits:
    if path is None:
        return AuditLimits()
    p = Path(path)
    try:
        data: Any = yaml.safe_load(p.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AuditInputError(f"{p}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise AuditInputError(f"{p}: expected a mapping of limits, e.g. max_amplification: 3")
    known = {f.name: f for f in fields(AuditLimits)}
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name not in known:
            raise AuditInputError(f"{p}: {name}: unknown limit; expected one of "
                                  f"{', '.join(known)}")  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise AuditInputError(f"{p}: {name}: expected a number, got {value!r}")
        values[name] = (
            int(value) if name in ("min_jitter_samples", "min_outage_failures") else float(value)
        )
    return AuditLimits(**values)
