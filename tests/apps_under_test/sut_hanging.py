"""Never returns (a sleep the run's monkey-patching makes cooperative)."""

from __future__ import annotations

import time


def answer(request):
    time.sleep(3600)
