"""`hipvision bench engine`: the app stays responsive while it trains, and how long a
one-click retrain takes.

Figures from one run:
- stall: a 5 ms QTimer on the GUI thread while the engine trains; the gaps between its
  ticks minus 5 ms are how long the event loop could not react (p50/p99/max; goal max <= 50 ms);
- retrain: wall time from the click to a registered (and, if better, promoted) model, on N
  labelled phantom images (default 200; goal <= 5 min on CPU), with its validation NA MAE
  against the active model's on the same images;
- the engine process (`--backend process`, the app's): how long the child took to start, the
  peak resident memory of the GUI process and of the child while training, and the round trip
  of one click-to-place prediction with a warm child against the same call made in-process
  (goal <= 1.2x).
Qt is imported inside run(): `hipvision --help` must not load it.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from hipvision.bench.timing import percentile

ROUND_TRIPS = 7  # timed click-to-place predictions, each way (after one untimed warm-up)

DESCRIPTION = "engine: event-loop stall while training, and one-click retrain time on N phantom images"


def add_arguments(p) -> None:
    p.add_argument("--images", type=int, default=200, help="labelled phantom images (default 200)")
    p.add_argument("--size", type=int, default=1024, help="phantom size in px (default 1024)")
    p.add_argument("--epochs", type=int, default=4, help="retrain epochs (default 4)")
    p.add_argument("--seed", type=int, default=4242)
    p.add_argument("--keep", metavar="DIR", help="build the project here and keep it")
    p.add_argument("--backend", choices=("process", "thread"), default="process",
                   help="where the engine runs jobs: a child process (the app's; default) or its thread")


def _project(folder: Path, n: int, size: int, seed: int) -> None:
    from hipvision.core.importer import import_folder
    from hipvision.core.store import Project
    from hipvision.phantom import PhantomConfig, generate_phantoms

    if not (folder / "annotations.json").exists():
        generate_phantoms(folder, n, seed=seed, config=PhantomConfig(size=size, bit_depth=8))
    with Project.open(folder) as project:
        import_folder(project)


class _PeakMemory:
    """Peak resident memory of this process and of the engine's child, sampled from a QTimer."""

    def __init__(self, engine):
        import psutil

        self.engine, self.psutil = engine, psutil
        self.me = psutil.Process()
        self.parent = self.child = 0

    def sample(self) -> None:
        self.parent = max(self.parent, self.me.memory_info().rss)
        pid = self.engine.child_pid()
        if pid is not None:
            try:
                self.child = max(self.child, self.psutil.Process(pid).memory_info().rss)
            except self.psutil.Error:  # it just ended
                pass


def _place_config(folder: Path):
    """A click-to-place job on the first image: the clicks on its annotated head centres."""
    from hipvision.core.store import Project
    from hipvision.ml.place_job import PlaceJob

    with Project.open(folder, create=False) as project:
        rec = project.images()[0]
        lm = project.current_landmarks(rec.id)
    return PlaceJob(str(folder), rec.id, ((lm.left.head_x, lm.left.head_y), (lm.right.head_x, lm.right.head_y)))


def _round_trips(engine, loop, ended: dict, config) -> tuple[list[float], list[float]]:
    """Seconds of a click-to-place through the engine (submit to `finished` in the GUI thread) and
    of the same call in this process, alternated: on a shared machine the load drifts, and
    alternating gives both the same share of it."""
    from hipvision.ml.device import set_cpu_threads
    from hipvision.ml.place_job import place_hips

    set_cpu_threads(None)  # the threads the child uses (cores - 1, or OMP_NUM_THREADS): a like-for-like call
    through, here = [], []
    for i in range(ROUND_TRIPS + 1):  # the first loads the (new) active model on each side
        ended.clear()
        t0 = time.perf_counter()
        engine.submit("place", place_hips, config)
        loop.exec()
        if "error" in ended:
            raise RuntimeError(ended["error"])
        t1 = time.perf_counter()
        place_hips(config)
        t2 = time.perf_counter()
        if i:
            through.append(t1 - t0)
            here.append(t2 - t1)
    return through, here


def _print_stall(gaps: list[float]) -> None:
    print(f"event-loop stall while training (n={len(gaps)} ticks of 5 ms): p50 {percentile(gaps, 50):.1f} ms, "
          f"p99 {percentile(gaps, 99):.1f} ms, max {max(gaps):.1f} ms (goal max <= 50 ms)")


def run(args) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from hipvision.gui.engine import Engine
    from hipvision.ml import app_jobs

    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="hipvision-bench-engine-")
    folder = Path(args.keep or tmp.name) / "project"
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    _project(folder, args.images, args.size, args.seed)
    print(f"project: {args.images} labelled phantoms at {args.size} px ({time.perf_counter() - t0:.0f} s to make)")

    _app = QApplication.instance() or QApplication([])  # held: the engine's signals need a live QApplication
    engine = Engine(backend=args.backend)
    memory = _PeakMemory(engine)
    mem_timer = QTimer()
    mem_timer.setInterval(250)
    mem_timer.timeout.connect(memory.sample)
    gaps: list[float] = []
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setInterval(5)
    last = [0]

    def tick():
        now = clock.nsecsElapsed()
        if last[0]:
            gaps.append(max((now - last[0]) / 1e6 - 5.0, 0.0))
        last[0] = now

    timer.timeout.connect(tick)
    ended: dict = {}  # result (a RetrainResult), or error and traceback
    loop = QEventLoop()
    engine.finished.connect(lambda jid, r: (ended.update(result=r), loop.quit()))
    engine.failed.connect(lambda jid, msg, tb: (ended.update(error=msg, traceback=tb), loop.quit()))
    config = app_jobs.RetrainJob(str(folder), epochs=args.epochs, seed=args.seed)
    clock.start()
    timer.start()
    mem_timer.start()
    started = time.perf_counter()
    engine.submit("retrain", app_jobs.retrain, config, hooks=("metrics",))
    loop.exec()
    wall = time.perf_counter() - started
    timer.stop()
    mem_timer.stop()
    memory.sample()
    trips = inproc = None
    if "error" not in ended:
        result = ended["result"]
        # After the memory figures: torch loaded here for the in-process calls is not the GUI's.
        trips, inproc = _round_trips(engine, loop, ended, _place_config(folder))
    engine.shutdown()
    if tmp is not None:
        tmp.cleanup()
    if "error" in ended:
        print(ended["traceback"])
        print(f"retrain failed: {ended['error']}")
        return 1
    _print_stall(gaps)
    new, old = result.new_val_na_mae, result.old_val_na_mae
    score = (f"val NA MAE {new:.2f}° vs active {old:.2f}°" if new is not None and old is not None
             else f"val NA MAE {result.val_na_mae}")
    print(f"one-click retrain on {result.train_images} training images, {result.epochs_run} epochs: "
          f"{wall:.0f} s to a {'promoted' if result.activated else 'registered (not promoted)'} model "
          f"({score}; goal <= 300 s)")
    mb = 1 / 2**20
    if args.backend == "process":
        print(f"engine process: started in {engine.child_starts[0]:.2f} s; peak memory while training: "
              f"GUI process {memory.parent * mb:.0f} MiB, engine process {memory.child * mb:.0f} MiB")
    else:
        print(f"engine thread: peak memory of the one process while training {memory.parent * mb:.0f} MiB")
    warm, here = statistics.median(trips), statistics.median(inproc)
    print(f"click-to-place prediction, one image: {warm * 1000:.0f} ms round trip through the engine "
          f"({args.backend}, warm) vs {here * 1000:.0f} ms in-process: {warm / here:.2f}x (goal <= 1.2x; "
          f"median of {ROUND_TRIPS})")
    return 0
