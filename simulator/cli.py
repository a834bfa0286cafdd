"""The ``stampede`` command line.

Exit codes: 0 every threshold holds, 1 a threshold failed, 2 config error (nothing started),
3 run error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]

EXIT_OK, EXIT_THRESHOLD, EXIT_CONFIG, EXIT_RUN = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    from mock_provider.serve import add_serve_arguments

    parser = argparse.ArgumentParser(
        prog="stampede", description="Load-test and chaos-test LLM API clients before launch."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the mock LLM provider")
    add_serve_arguments(serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from mock_provider.serve import serve_main

        return serve_main(args)
    return EXIT_RUN


if __name__ == "__main__":
    sys.exit(main())
