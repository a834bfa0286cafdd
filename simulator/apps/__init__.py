"""App strategies: the user's own code, run as one strategy of a scenario.

``request``: what the app's function receives (:class:`AppRequest`) and the SDK environment
it is imported under; ``loading``: importing it, and the check that refuses a broken import
before anything starts; ``calling``: calling it from gevent, sync or async; ``calls``: the
record of each call the live driver makes;
``attribution``: which of the mock's journal entries were which call's attempts, and the trace
records built from them. The gevent driver that calls the app is ``simulator/live/app_driver.py``.
"""
