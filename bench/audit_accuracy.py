"""How well does the audit rebuild logical requests from a journal it has never seen?

    python bench/audit_accuracy.py [--seed 0] [--per-family 150] [--noise-ms 0.5]

It groups a labelled corpus (``bench/audit_corpus.py``: SDK retries, plain loops, identical
one-shot requests, 400s, streams, fallbacks, wrappers, several keys, interleaved chains, clock
noise) with :func:`simulator.audit.grouping.group_requests` and scores it pairwise:

- a *true pair* is two journal entries of the same true logical request;
- a *predicted pair* is two entries the grouping put in the same logical request;
- precision = true pairs predicted / predicted pairs; recall = true pairs predicted / true pairs.

Per family, the true pairs are the family's own, and a predicted pair counts against every
family it touches (a one-shot wrongly joined to an SDK chain costs both). A family with no true
pair (one-shots) has no recall, and a precision of 1 only if nothing of it was joined.

The baseline, scored in the same run, is the same grouping given no header and no tag (the
journal with ``retry_count`` and ``tag`` removed): what key, prompt and timing alone recover.
Target: precision and recall >= 0.98 overall. Exit status 1 below it.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.audit_corpus import FAMILIES, Labelled, corpus
from simulator.audit.grouping import group_requests

__all__ = ["Score", "score"]

TARGET = 0.98


@dataclass(frozen=True)
class Score:
    true_pairs: int
    predicted_pairs: int
    both: int  # pairs true and predicted

    @property
    def precision(self) -> float | None:
        return self.both / self.predicted_pairs if self.predicted_pairs else None

    @property
    def recall(self) -> float | None:
        return self.both / self.true_pairs if self.true_pairs else None


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def score(rows: Sequence[Labelled], predicted: dict[int, int]) -> dict[str, Score]:
    """Pairwise scores, overall (``"all"``) and per family; ``predicted``: entry index ->
    predicted group."""
    true_size: Counter[int] = Counter(r.chain for r in rows)
    pred_size: Counter[int] = Counter(predicted.values())
    cell: Counter[tuple[int, int]] = Counter((r.chain, predicted[i]) for i, r in enumerate(rows))
    family_of_chain = {r.chain: r.family for r in rows}
    families_of_group: dict[int, Counter[str]] = defaultdict(Counter)
    for i, r in enumerate(rows):
        families_of_group[predicted[i]][r.family] += 1
    out: dict[str, Score] = {}
    both = sum(_pairs(c) for c in cell.values())
    out["all"] = Score(sum(map(_pairs, true_size.values())),
                       sum(map(_pairs, pred_size.values())), both)  # fmt: skip
    for fam in sorted({r.family for r in rows}):
        t = sum(_pairs(n) for ch, n in true_size.items() if family_of_chain[ch] == fam)
        b = sum(_pairs(c) for (ch, _g), c in cell.items() if family_of_chain[ch] == fam)
        # predicted pairs touching fam: all pairs of the group minus those with neither in fam
        p = sum(
            _pairs(pred_size[g]) - _pairs(pred_size[g] - fams[fam])
            for g, fams in families_of_group.items()
            if fams[fam]
        )
        out[fam] = Score(t, p, b)
    return out


def predict(rows: Sequence[Labelled], strip: bool = False) -> dict[int, int]:
    """Entry index -> the grouping's logical request; ``strip``: without header and tag."""
    entries = [
        msgspec.structs.replace(r.entry, retry_count=None, tag=None) if strip else r.entry
        for r in rows
    ]
    index = {id(e): i for i, e in enumerate(entries)}
    out: dict[int, int] = {}
    for g, req in enumerate(group_requests(entries)):
        for e in req.attempts:
            out[index[id(e)]] = g
    return out


def _fmt(v: float | None) -> str:
    return "    -" if v is None else f"{v:.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-family", type=int, default=150)
    ap.add_argument("--noise-ms", type=float, default=0.5)
    args = ap.parse_args(argv)
    rows = corpus(args.seed, args.per_family, args.noise_ms / 1000.0)
    ours, base = score(rows, predict(rows)), score(rows, predict(rows, strip=True))
    requests = Counter(r.family for r in {r.chain: r for r in rows}.values())
    attempts = Counter(r.family for r in rows)
    print(f"corpus: seed {args.seed}, {len(FAMILIES)} families, {sum(requests.values())} "
          f"logical requests, {len(rows)} attempts, noise +-{args.noise_ms:g} ms")  # fmt: skip
    head = f"{'family':<16} {'requests':>8} {'attempts':>8} {'true pairs':>10} {'predicted':>9}"
    print(f"{head}  precision  recall   (baseline: no header, no tag)")
    for fam in [*sorted(requests), "all"]:
        s, b = ours[fam], base[fam]
        req = sum(requests.values()) if fam == "all" else requests[fam]
        att = len(rows) if fam == "all" else attempts[fam]
        print(f"{fam:<16} {req:>8} {att:>8} {s.true_pairs:>10} {s.predicted_pairs:>9}"
              f"  {_fmt(s.precision):>9}  {_fmt(s.recall):>6}   "
              f"({_fmt(b.precision)}, {_fmt(b.recall)})")  # fmt: skip
    total = ours["all"]
    p, r = total.precision or 0.0, total.recall or 0.0
    ok = p >= TARGET and r >= TARGET
    verdict = "ok" if ok else "BELOW"
    b = base["all"]
    print(f"pairwise precision {p:.3f}, recall {r:.3f} (baseline {_fmt(b.precision)}, "
          f"{_fmt(b.recall)}; target >= {TARGET} both): {verdict}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
