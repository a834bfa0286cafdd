"""``stampede run --web``: a live page of the run (``server.py``) drawn from ``state.py``."""
