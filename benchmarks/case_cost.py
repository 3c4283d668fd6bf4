"""What a change costs each case: over the cases two runs share, their case time and harness time.

    python benchmarks/case_cost.py results/<run before> results/<run after>

The harness time of a case is its duration less the time its go commands ran (containers, networks, files,
logs): a change to the harness shows there, and in the case time, while the go commands' own time stays.
Cases only in one run (new, renamed) are counted, not compared; `gotraps diff` says whether behaviour changed.
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fixtures.record import runs  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    before, after = ({line.case: line for line in runs.load(Path(p)).lines} for p in argv)
    common = sorted(set(before) & set(after))
    print(f"{len(common)} cases in both runs; {len(set(before) - set(after))} only before, "
          f"{len(set(after) - set(before))} only after")
    for field in ("duration_s", "harness_s"):
        a = [getattr(before[c], field) or 0.0 for c in common]
        b = [getattr(after[c], field) or 0.0 for c in common]
        if common:
            print(f"{field:>10}: sum {sum(a):8.1f} s -> {sum(b):8.1f} s ({(sum(b) / sum(a) - 1) * 100:+.1f} %), "
                  f"median {statistics.median(a):.3f} s -> {statistics.median(b):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
