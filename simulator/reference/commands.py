"""``stampede schema``, ``stampede init`` and ``stampede list``: what a scenario may say.

Thin commands over :mod:`~simulator.reference.schema`, :mod:`~simulator.reference.docs` and
:mod:`~simulator.reference.starter`. Exit 0 on success, 2 when the command line names
something that is not there or a file that would be overwritten.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from mock_provider.arguments import output_folder, writable_file
from simulator.console import wrap
from simulator.reference.starter import SCENARIOS_DIR, shipped_scenarios, starter_text

__all__ = ["add_reference_arguments", "cmd_init", "cmd_list", "cmd_schema"]

EXIT_OK, EXIT_CONFIG = 0, 2
SCHEMA_LINE = "# yaml-language-server: $schema=./scenario.schema.json"


def add_reference_arguments(sub: Any) -> None:
    schema = sub.add_parser(
        "schema", help="write the JSON Schema of scenario and client files, for editors"
    )
    schema.add_argument(
        "--out",
        default=".",
        metavar="DIR",
        type=output_folder,
        help="folder for the two .schema.json files",
    )
    schema.add_argument(
        "--docs",
        metavar="DIR",
        type=output_folder,
        help="also write the field reference scenarios.md there (the project's docs/)",
    )
    init = sub.add_parser("init", help="write a commented starter scenario")
    init.add_argument("file", nargs="?", default="scenario.yaml", type=writable_file,
                      help="default scenario.yaml")  # fmt: skip
    init.add_argument(
        "--from", dest="source", metavar="SCENARIO", help="copy a shipped scenario (by name)"
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    sub.add_parser("list", help="the shipped scenarios, check batteries and client presets")


def _err(message: str) -> None:
    print(wrap(f"error: {message}"), file=sys.stderr)


def cmd_schema(args: argparse.Namespace) -> int:
    from simulator.reference.docs import render_docs
    from simulator.reference.schema import write_schemas

    out = Path(args.docs or args.out)
    if out.exists() and not out.is_dir():
        _err(f"{out}: not a folder; name a folder for the schema files")
        return EXIT_CONFIG
    written = write_schemas(out)
    if args.docs:
        page = out / "scenarios.md"
        page.write_text(render_docs(), encoding="utf-8")
        written.append(page)
    for path in written:
        print(f"wrote {path}")
    print(f"In a scenario file, add as the first line:  {SCHEMA_LINE}")
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from simulator.reference.schema import write_schemas

    target = Path(args.file)
    if target.exists() and not args.force:
        _err(f"{target}: already exists; choose another name, or add --force to overwrite it")
        return EXIT_CONFIG
    if target.suffix not in (".yaml", ".yml"):
        _err(f"{target}: a scenario file ends in .yaml or .yml")
        return EXIT_CONFIG
    try:
        text = starter_text(args.source)
    except (FileNotFoundError, UnicodeDecodeError) as exc:
        _err(f"--from: {exc}")
        return EXIT_CONFIG
    if not text.startswith("# yaml-language-server:"):
        text = f"{SCHEMA_LINE}\n{text}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        write_schemas(target.parent)
    except OSError as exc:
        _err(f"{target}: cannot write: {exc.strerror}")
        return EXIT_CONFIG
    print(f"wrote {target} (and scenario.schema.json beside it, for editors)")
    print(f"next:  stampede lint {target}  then  stampede run {target} --virtual")
    return EXIT_OK


def _first_sentence(text: str, width: int) -> str:
    sentence = " ".join(text.split()).split(". ")[0].rstrip(".")
    return sentence if len(sentence) <= width else sentence[: width - 1].rstrip() + "…"


def _shown(folder: Path) -> str:
    """``folder`` as a command line would name it from here: relative when it is below."""
    try:
        return str(folder.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(folder)


def cmd_list(args: argparse.Namespace) -> int:
    from simulator.check.battery import DEFAULT_BATTERY
    from simulator.client.presets import PRESET_FIELDS

    width = 100
    print(f"Scenarios (stampede run {_shown(SCENARIOS_DIR)}/NAME.yaml, or copy one to edit: "
          "stampede init FILE --from NAME):")  # fmt: skip
    for path in shipped_scenarios():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        name = f"  {path.stem:<20}"
        print(name + _first_sentence(str(data.get("description", "")), width - len(name)))
    if not shipped_scenarios():
        print("  (none: this install has no scenarios/ folder; see the project's repository)")
    battery = yaml.safe_load(DEFAULT_BATTERY.read_text(encoding="utf-8")) or {}
    items = battery.get("items") or {}
    print("\nCheck batteries (stampede check CLIENT --battery default|FILE):")
    print(f"  {'default':<20}{len(items)} failure modes a client must survive before launch:")
    for key, item in items.items():
        name = f"    {key:<18}"
        print(name + _first_sentence(str(item.get("title", "")), width - len(name)))
    print("\nClient presets (preset: NAME in a strategy; stampede check NAME):")
    for key, fields in PRESET_FIELDS.items():
        name = f"  {key:<22}"
        print(name + _first_sentence(str(fields.get("description", "")), width - len(name)))
    return EXIT_OK
