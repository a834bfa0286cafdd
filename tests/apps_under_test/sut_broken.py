"""Fails at import time, as a module with a typo in a dependency does."""

from __future__ import annotations

import a_module_that_does_not_exist  # noqa: F401


def answer(request):
    return None
