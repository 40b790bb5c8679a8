"""`hipvision bench robustness`: the corpus of issue #16 (malformed images, hostile label
files, the two memory cases) through import, predict, info, measure and the GUI's open path,
each in its own process with a timeout.

Counts: tracebacks, signals, hangs, peak RSS per run (goal: 0, 0, 0, <= 2 GB), valid files
imported/predicted/described against expected, bad files named with a reason. Prints a table
and writes DIR/results.json. The corpus builder is hipvision/bench/robustness_corpus.py, the
runner hipvision/bench/robustness_runner.py.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

DESCRIPTION = "robustness: the malformed-file corpus through every command (tracebacks, signals, hangs, peak RSS)"


def add_arguments(p) -> None:
    p.add_argument("--out", metavar="DIR", help="build the corpus and write results.json here (kept); "
                                                "default: a temporary folder, results.json in the current one")
    p.add_argument("--timeout", type=float, default=180.0, metavar="S", help="per run, in seconds (default 180)")
    p.add_argument("--gui", choices=("none", "folders", "all"), default="all",
                   help="GUI runs: none, one per folder, or also one per image file (default all)")
    p.add_argument("--no-predict", action="store_true", help="leave out predict (it loads torch)")
    p.add_argument("--no-memory-cases", action="store_true",
                   help="leave out the 15,811² PNG and the lying JPEG (the PNG takes ~10 s to write)")


def run(args) -> int:
    from hipvision.bench.robustness_corpus import CorpusConfig, build_corpus
    from hipvision.bench.robustness_runner import RunnerConfig, run_corpus, table
    from hipvision.cli import CommandError

    try:
        config = RunnerConfig(timeout_s=args.timeout, gui=args.gui, predict=not args.no_predict)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    tmp = None if args.out else tempfile.TemporaryDirectory(prefix="hipvision-bench-robustness-")
    root = Path(args.out or tmp.name) / "corpus"
    t0 = time.perf_counter()
    corpus = build_corpus(root, CorpusConfig(memory_cases=not args.no_memory_cases))
    print(f"corpus: {len(corpus.valid)} valid and {len(corpus.bad)} odd image files, "
          f"{len(corpus.label_folders)} hostile label folders in {root} ({time.perf_counter() - t0:.0f} s to make)",
          file=sys.stderr)

    def progress(done, total, label):
        print(f"[{done}/{total}] {label}", file=sys.stderr, flush=True)

    results = run_corpus(corpus, config, progress=progress)
    print(table(results, config.rss_limit_mb))
    target = (Path(args.out) if args.out else Path.cwd()) / "results.json"
    from hipvision.core.atomic import write_text_atomic

    write_text_atomic(target, json.dumps(results.to_json(config.rss_limit_mb), indent=1) + "\n")
    print(f"wrote {target}")
    if tmp is not None:
        tmp.cleanup()
    failed = (results.tracebacks or results.signals or results.hangs or results.over_rss(config.rss_limit_mb)
              or any(not c.ok for c in results.checks))
    return 1 if failed else 0
