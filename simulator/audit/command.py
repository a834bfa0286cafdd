"""Reading what an audit needs from files: the journal, and the limits of ``--thresholds``.

A journal that cannot be read (missing, or holding no entry at all) and a thresholds file that
does not validate are errors the CLI exits 2 on; :class:`AuditInputError` says which file and
what was expected.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from mock_provider.journal import JournalEntry, read_journal
from simulator.audit.findings import AuditLimits

__all__ = ["AuditInputError", "load_journal", "load_limits"]


class AuditInputError(Exception):
    """An input the audit cannot use; ``str()`` names the file and what was expected."""


def load_journal(path: str | Path, offset: int = 0) -> list[JournalEntry]:
    p = Path(path)
    if not p.is_file():
        raise AuditInputError(f"{p}: no such journal (write one with stampede serve "
                              "--request-log FILE)")  # fmt: skip
    try:
        entries = list(read_journal(p, offset))
    except OSError as exc:
        raise AuditInputError(f"{p}: cannot read: {exc}") from exc
    if not entries and p.stat().st_size > offset:
        raise AuditInputError(f"{p}: not a request journal (no line is a journal entry)")
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
