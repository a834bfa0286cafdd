"""``stampede audit``: judge any client, in any language, from the mock's request journal.

``grouping``: attempts into logical requests; ``findings``: the judging, pure functions over
journal entries; ``render``: the terminal table, ``audit.json`` and ``audit.html``;
``command``: reading the journal and the thresholds file, for the CLI and the pytest plugin.
"""
