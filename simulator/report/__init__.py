"""The report: metrics (the one place numbers are defined), thresholds, charts and HTML.

``metrics`` -> ``summary.json``; ``thresholds`` judges it; ``plots`` draws PNGs; ``html``
assembles ``report.html`` and the terminal tables. Import the submodules directly: this
package imports nothing itself, so ``metrics`` stays usable without loading matplotlib.
"""
