"""``stampede fault add|list|clear --target URL``: a running mock's faults, from a shell.

The same rules as a scenario's ``provider.faults`` entries, sent to the mock's
``/_stampede/faults`` routes (``mock_provider/admin.py``)::

    stampede fault add reset times=2 --target http://127.0.0.1:8000
    stampede fault add error status=429 retry_after=5s model=gpt-4o
    stampede fault list
    stampede fault clear            # every rule;  stampede fault clear f1 f3: those

Each ``field=value`` is read as YAML (``true``, ``3``, ``2s``), as in a scenario file.
Exit codes: 0 done, 2 the mock refused the rule (each problem is printed), 3 no mock there.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any

import yaml

from mock_provider.arguments import http_url

__all__ = ["add_fault_arguments", "cmd_fault"]

DEFAULT_TARGET = "http://127.0.0.1:8000"
EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE = 0, 2, 3


def add_fault_arguments(sub: Any) -> None:
    fault = sub.add_parser("fault", help="add, list or clear a running mock's faults")
    actions = fault.add_subparsers(dest="fault_action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a fault rule: KIND [field=value ...]")
    add.add_argument("kind", help="error, reset, hang, empty, malformed, slow, cut_stream, "
                     "stream_error (or outage, error_rate)")  # fmt: skip
    add.add_argument("fields", nargs="*", metavar="field=value",
                     help="the rule's fields, as in a scenario's provider.faults")  # fmt: skip
    actions.add_parser("list", help="the mock's fault rules, with how often each struck")
    clear = actions.add_parser("clear", help="remove fault rules: the ids given, else all")
    clear.add_argument("ids", nargs="*", metavar="ID")
    for p in (add, actions.choices["list"], clear):
        p.add_argument("--target", default=DEFAULT_TARGET, type=http_url,
                       help=f"the mock's URL (default {DEFAULT_TARGET})")  # fmt: skip


class NotAMock(Exception):
    """Something answered at the target, but not as a stampede mock does."""


def _call(target: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    base = target.rstrip("/").removesuffix("/v1")
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"content-type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        raise NotAMock(f"HTTP {status} with a body that is not JSON") from None


def _message(body: Any) -> str:
    """The mock's error message (``{"error": {"message": ...}}``)."""
    try:
        return str(body["error"]["message"])
    except (KeyError, TypeError):
        raise NotAMock(f"an answer without the mock's error body: {str(body)[:80]}") from None


def _fields(kind: str, pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": kind}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"expected field=value, got {pair!r}")
        try:
            out[name.strip()] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ValueError(f"{name}: cannot read value {raw!r}: {exc}") from None
    return out


def _show(row: dict[str, Any]) -> str:
    hidden = {"id", "kind", "struck", "left"}
    rest = " ".join(f"{k}={v}" for k, v in row.items() if k not in hidden)
    left = "" if row.get("left") is None else f", {row['left']} left"
    return f"{row['id']} {row['kind']} {rest} (struck {row['struck']}{left})"


def cmd_fault(args: argparse.Namespace) -> int:
    try:
        if args.fault_action == "add":
            try:
                rule = _fields(args.kind, args.fields)
            except ValueError as exc:
                print(f"stampede fault add: {exc}", file=sys.stderr)
                return EXIT_REFUSED
            status, body = _call(args.target, "POST", "/_stampede/faults", rule)
            if status != 200:
                print(f"{args.target}: {_message(body)}", file=sys.stderr)
                return EXIT_REFUSED
            print(body["id"])
            return EXIT_OK
        if args.fault_action == "list":
            _, body = _call(args.target, "GET", "/_stampede/faults")
            for row in body["faults"]:
                print(_show(row))
            if not body["faults"]:
                print("no faults")
            return EXIT_OK
        removed: list[str] = []
        if not args.ids:
            removed = _call(args.target, "DELETE", "/_stampede/faults")[1]["removed"]
        for fid in args.ids:
            status, body = _call(args.target, "DELETE", f"/_stampede/faults/{fid}")
            if status != 200:
                print(f"{args.target}: {_message(body)}", file=sys.stderr)
                return EXIT_REFUSED
            removed += body["removed"]
        print(f"removed {len(removed)}: {' '.join(removed)}" if removed else "removed none")
        return EXIT_OK
    except (urllib.error.URLError, OSError) as exc:
        print(f"stampede fault: no stampede mock at {args.target} ({exc})", file=sys.stderr)
        return EXIT_UNREACHABLE
    except (NotAMock, KeyError, TypeError) as exc:  # a 200 without the mock's fields too
        print(f"stampede fault: {args.target} is not a stampede mock ({exc})", file=sys.stderr)
        return EXIT_UNREACHABLE
