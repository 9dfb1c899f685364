"""Run the property "whenever ``hubtools generate`` exits 0, ``validate --repo``
exits 0 on what it wrote" over many more random repositories than the suite does.

    python benchmarks/property_generate.py [--examples 2000] [--seed 0]

The repositories come from ``tests/generate/trees.py`` (README tables with bad
rows, folders of models, turnkey folders, ``hubtools.toml`` rules), each
written to a temporary folder, generated in-process, and validated with its
files when generate wrote a manifest. Prints how the runs ended (generate's
exit code, validate's), how many entries and problems they had, and the time;
exits 1 at the first repository where the property fails, printing it.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from tests.generate.trees import check_tree, trees  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ends: collections.Counter[str] = collections.Counter()
    files: collections.Counter[str] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()

    @seed(args.seed)
    @settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(trees())
    def run(tree: dict[str, bytes]) -> None:
        outcome = check_tree(tree)
        ends[f"generate {outcome.generate}, validate {outcome.validate}"] += 1
        files["files"] += len(tree)
        files["entries"] += outcome.entries
        files["with entries"] += outcome.entries > 0
        for code in outcome.errors:
            errors[code] += 1
        if outcome.generate == 0:
            assert outcome.validate == 0, outcome.problems

    start = time.perf_counter()
    try:
        run()
    except AssertionError as err:
        print(f"the property fails: {err}")
        raise SystemExit(1) from err
    elapsed = time.perf_counter() - start
    total = sum(ends.values())
    print(
        f"{total} repositories ({files['files']} files) in {elapsed:.1f} s, "
        f"{total / elapsed:.0f}/s, seed {args.seed}"
    )
    for end, count in sorted(ends.items()):
        print(f"  {end}: {count}")
    print(f"  written: {files['entries']} entries, {files['with entries']} manifests not empty")
    print(
        "  errors that stopped generate (repositories): "
        + ", ".join(f"{code} {count}" for code, count in errors.most_common())
    )
    print("property holds: every manifest generate wrote, validate --repo accepted")


if __name__ == "__main__":
    main()
