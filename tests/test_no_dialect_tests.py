"""A provider's rules live in its dialect package or its family record
(``mock_provider/model/family.py``), never in a string test on a dialect's name elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# ``dialect == "anthropic"``, ``x.dialect != 'openai'``, ``"openai" == family``, ...
_NAMES = r"""["'](?:openai|openai_responses|anthropic)["']"""
_TEST = re.compile(
    rf"""(?:\b\w*(?:dialect|family)\w*\s*[!=]=\s*(?:\(?[^\n]*?)?{_NAMES})"""
    rf"""|(?:{_NAMES}\s*[!=]=\s*\w*(?:dialect|family))"""
)
ALLOWED = ROOT / "mock_provider" / "dialects"


def offending_lines() -> list[str]:
    found = []
    for package in ("mock_provider", "simulator"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if ALLOWED in path.parents:
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if _TEST.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    return found


def test_no_rule_outside_the_dialect_packages_tests_a_dialect_by_name():
    assert offending_lines() == []


def test_the_grep_finds_what_it_looks_for():
    for line in ('if spec.dialect == "anthropic":', "if dialect != 'openai':",
                 'x = spec.dialect != ("anthropic" if a else "openai")',
                 'if "openai" == family:'):  # fmt: skip
        assert _TEST.search(line), line
    assert not _TEST.search("if spec.dialect != dialect.serves:")
