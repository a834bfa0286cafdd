"""``python -m mock_provider``: the same as ``stampede serve``."""

from __future__ import annotations

import argparse
import sys

from .serve import add_serve_arguments, serve_main


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m mock_provider", description=__doc__)
    add_serve_arguments(parser)
    return serve_main(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
