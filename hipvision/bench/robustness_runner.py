"""Run the commands a user would over the robustness corpus, each in its own process, and
count what issue #16 asks for: tracebacks, signals, hangs, peak memory per run, valid files
taken in, bad files named (no Qt here: the GUI runs as `hipvision gui … --screenshot`).

A run is one `python -m hipvision …` child with a timeout; its peak RSS comes from the
kernel's rusage of the reaped child (`os.wait4`), so it includes every byte the decoders
touched, not a sampled guess.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hipvision.bench.robustness_corpus import Corpus

GUI_MODES = ("none", "folders", "all")


@dataclass(frozen=True)
class RunnerConfig:
    timeout_s: float = 180.0  # per run; a decode that takes longer counts as a hang
    gui: str = "all"  # none | folders (one window per folder) | all (also one per image file)
    predict: bool = True  # loads torch: ~10 s per run on a small machine
    python: str = sys.executable
    rss_limit_mb: float = 2048.0

    def __post_init__(self):
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s: must be > 0, got {self.timeout_s}")
        if self.gui not in GUI_MODES:
            raise ValueError(f"gui: one of {GUI_MODES}, got {self.gui!r}")


@dataclass(frozen=True)
class Run:
    label: str  # what was run, for the table: "info huge_rgba16.png"
    rc: int | None  # None: killed after the timeout
    wall_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str

    @property
    def hung(self) -> bool:
        return self.rc is None

    @property
    def signal(self) -> int | None:
        return -self.rc if self.rc is not None and self.rc < 0 else None

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.stderr or "Traceback" in self.stdout


@dataclass(frozen=True)
class Check:
    """One expectation: `missing` lists the files it was not met for."""

    what: str
    expected: int
    got: int
    missing: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.got == self.expected and not self.missing


@dataclass
class Results:
    runs: list[Run] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def tracebacks(self) -> list[Run]:
        return [r for r in self.runs if r.traceback]

    @property
    def signals(self) -> list[Run]:
        return [r for r in self.runs if r.signal is not None]

    @property
    def hangs(self) -> list[Run]:
        return [r for r in self.runs if r.hung]

    @property
    def peak_rss_mb(self) -> float:
        return max((r.peak_rss_mb for r in self.runs), default=0.0)

    def over_rss(self, limit_mb: float) -> list[Run]:
        return [r for r in self.runs if r.peak_rss_mb > limit_mb]

    def to_json(self, limit_mb: float) -> dict:
        return {
            "counts": {"runs": len(self.runs), "tracebacks": len(self.tracebacks), "signals": len(self.signals),
                       "hangs": len(self.hangs), "peak_rss_mb": round(self.peak_rss_mb, 1),
                       "runs_over_rss_limit": len(self.over_rss(limit_mb)), "rss_limit_mb": limit_mb,
                       "checks_failed": sum(not c.ok for c in self.checks)},
            "checks": [{**asdict(c), "ok": c.ok} for c in self.checks],
            "runs": [{"label": r.label, "rc": r.rc, "hung": r.hung, "signal": r.signal, "traceback": r.traceback,
                      "wall_s": round(r.wall_s, 2), "peak_rss_mb": round(r.peak_rss_mb, 1),
                      "stderr_tail": r.stderr[-2000:]} for r in self.runs],
        }


def run_command(argv: list, *, label: str, config: RunnerConfig, cwd: Path, env: dict | None = None) -> Run:
    """`python -m hipvision ARGV…` in a new session (so a hang is killed with all it started)."""
    logs = cwd / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)[:80]
    out_path, err_path = logs / f"{slug}.out", logs / f"{slug}.err"
    child_env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONFAULTHANDLER": "1", **(env or {})}
    # Linux starts a child's ru_maxrss at its parent's high-water mark (set at exec), so a
    # child smaller than this process reads as this process's size: below that, the peak comes
    # from polling the child's own VmHWM (monotonic; only the last 50 ms can be missed).
    own_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    polled_kib = 0
    t0 = time.perf_counter()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([config.python, "-m", "hipvision", *argv], stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, cwd=cwd, env=child_env, start_new_session=True)
        deadline = t0 + config.timeout_s
        while True:
            polled_kib = max(polled_kib, _vm_hwm_kib(proc.pid))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                rc: int | None = os.waitstatus_to_exitcode(status)
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                rc = None
                break
            time.sleep(0.05)
    proc.returncode = rc if rc is not None else -9  # reaped by wait4: keep Popen from waiting again
    wall = time.perf_counter() - t0
    text = [p.read_bytes().decode("utf-8", "backslashreplace") for p in (out_path, err_path)]
    peak_kib = usage.ru_maxrss if usage.ru_maxrss > own_kib else polled_kib  # KiB on Linux
    return Run(label=label, rc=rc, wall_s=wall, peak_rss_mb=peak_kib / 1024, stdout=text[0], stderr=text[1])


def _vm_hwm_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _named(lines: list[str], name: str) -> bool:
    """Whether a line names `name` as a file followed by a reason ('…/name: reason')."""
    return any(re.search(rf"(^|[/\s]){re.escape(name)}: \S", line) for line in lines)


def _project_images(folder: Path) -> dict[str, str | None]:
    """path -> error of every image the project of `folder` holds ({} when there is none)."""
    from hipvision.core.locations import has_project
    from hipvision.core.store import Project

    if not has_project(folder):
        return {}
    with Project.open(folder, create=False) as project:
        return {rec.path: rec.error for rec in project.images()}


def run_corpus(corpus: Corpus, config: RunnerConfig = RunnerConfig(), *, progress=None, cancel=None) -> Results:
    """Every command over the corpus; `progress(done, total, label)` after each run."""
    res = Results()
    work = corpus.root / "work"
    work.mkdir(exist_ok=True)
    images = corpus.images
    files = sorted(os.listdir(os.fsencode(str(images))))
    files = [f for f in files if not f.startswith(b".")]
    plan: list[tuple[str, list]] = [("import images", ["import", str(images)])]
    if config.predict:
        plan.append(("predict images", ["predict", str(images), "--no-tta", "--out", str(work / "pred.csv")]))
    plan += [(f"info {os.fsdecode(f).encode('utf-8', 'surrogateescape').decode('utf-8', 'backslashreplace')}",
              ["info", os.path.join(os.fsencode(str(images)), f)]) for f in files]
    if config.gui != "none":
        plan.append(("gui images", ["gui", str(images), "--screenshot", str(work / "gui_images.png")]))
    if config.gui == "all":
        plan += [(f"gui {os.fsdecode(f).encode('utf-8', 'surrogateescape').decode('utf-8', 'backslashreplace')}",
                  ["gui", os.path.join(os.fsencode(str(images)), f), "--screenshot", str(work / "gui_file.png")])
                 for f in files]
    for kind, folder in corpus.label_folders:
        plan.append((f"import labels/{kind.kind}", ["import", str(folder)]))
        if kind.measure_rc is not None:
            plan.append((f"measure labels/{kind.kind}", ["measure", str(folder / "truth.csv")]))
        if config.gui != "none":
            plan.append((f"gui labels/{kind.kind}",
                         ["gui", str(folder), "--screenshot", str(work / f"gui_{kind.kind}.png")]))

    runs: dict[str, Run] = {}
    for i, (label, argv) in enumerate(plan):
        if cancel is not None and cancel.is_set():
            break
        runs[label] = run = run_command(argv, label=label, config=config, cwd=work)
        res.runs.append(run)
        if progress is not None:
            progress(i + 1, len(plan), label)
    res.checks.extend(check_runs(corpus, runs, work))
    return res


def check_runs(corpus: Corpus, runs: dict[str, Run], work: Path) -> list[Check]:
    """What the runs (by the labels run_corpus gives them) did against what the corpus expects;
    `work` holds predict's output (work/pred.csv)."""
    valid, bad = list(corpus.valid), corpus.bad
    res = Results()

    def add(what: str, expected: list[str], ok) -> None:
        missing = tuple(n for n in expected if not ok(n))
        res.checks.append(Check(what, len(expected), len(expected) - len(missing), missing))

    def one(what: str, name: str, ok: bool) -> None:
        res.checks.append(Check(what, 1, int(ok), () if ok else (name,)))

    if "import images" in runs:
        stored = _project_images(corpus.images)
        lines = runs["import images"].stdout.splitlines()
        add("import: valid images imported", valid, lambda n: n in stored and stored[n] is None)
        add("import: bad images named with a reason",
            [b.name for b in bad if "import" in b.named_by], lambda n: _named(lines, n))
    if "predict images" in runs:
        from hipvision.core.interchange import InterchangeError, read_csv

        pred = work / "pred.csv"
        try:
            predicted = {item.image.rsplit("/", 1)[-1] for item in read_csv(pred)} if pred.exists() else set()
        except InterchangeError:
            predicted = set()
        lines = runs["predict images"].stderr.splitlines()
        add("predict: valid images predicted", valid, lambda n: n in predicted)
        add("predict: bad images named with a reason",
            [b.name for b in bad if "predict" in b.named_by], lambda n: _named(lines, n))
    info_runs = {label[len("info "):]: run for label, run in runs.items() if label.startswith("info ")}
    if info_runs:
        add("info: valid images described (exit 0)", valid, lambda n: n in info_runs and info_runs[n].rc == 0)
        add("info: bad images named with a reason (exit 2)", [b.name for b in bad if "info" in b.named_by],
            lambda n: n in info_runs and info_runs[n].rc == 2 and _named(info_runs[n].stderr.splitlines(), n))
    refused = {f"gui {b.name}" for b in bad if b.refused}
    gui_runs = [label for label in runs if label.startswith("gui ")]
    if gui_runs:
        add("gui: windows opened and saved (exit 0)", [n for n in gui_runs if n not in refused],
            lambda n: runs[n].rc == 0)
        add("gui: a refused file's folder opened and saved, the file named with why (exit 2)",
            [n for n in gui_runs if n in refused],
            lambda n: runs[n].rc == 2 and "wrote " in runs[n].stdout
            and _named(runs[n].stderr.splitlines(), n[len("gui "):]))
    for kind, folder in corpus.label_folders:
        key = f"import labels/{kind.kind}"
        if key not in runs:
            continue
        out = runs[key].stdout
        found = re.search(r"(\d+) labelled from", out)
        added = re.search(r"(\d+) added", out)
        ok_counts = (runs[key].rc == 0 and added is not None and int(added.group(1)) >= 1
                     and found is not None and int(found.group(1)) == kind.labelled)
        named = not kind.entry or f"label rejected: {folder / kind.label_file}: {kind.entry}" in out
        whole = bool(kind.entry) or kind.labelled > 0 or "label rejected:" in out
        one(f"import labels/{kind.kind}: {kind.labelled} labelled, the bad entry named",
            kind.kind, ok_counts and named and whole)
        mkey = f"measure labels/{kind.kind}"
        if mkey in runs:
            m = runs[mkey]
            one(f"measure labels/{kind.kind}: exit {kind.measure_rc}, the file named", kind.kind,
                m.rc == kind.measure_rc and (m.rc == 0 or "truth.csv" in m.stderr))
    return res.checks


def table(res: Results, limit_mb: float) -> str:
    """The runs, then the checks, then the counts the issue asks for."""
    lines = [f"{'run':<44s} {'rc':>5s} {'s':>6s} {'MB':>7s}  notes"]
    for r in res.runs:
        notes = ", ".join(n for n, on in (("TRACEBACK", r.traceback), (f"signal {r.signal}", r.signal is not None),
                                          ("HANG", r.hung), ("over RSS limit", r.peak_rss_mb > limit_mb)) if on)
        rc = "-" if r.rc is None else str(r.rc)
        lines.append(f"{r.label[:44]:<44s} {rc:>5s} {r.wall_s:6.1f} {r.peak_rss_mb:7.0f}  {notes}")
    lines.append("")
    for c in res.checks:
        lines.append(f"{'ok  ' if c.ok else 'FAIL'} {c.what}: {c.got}/{c.expected}"
                     + (f" (not: {', '.join(c.missing)})" if c.missing else ""))
    peak = max(res.runs, key=lambda r: r.peak_rss_mb, default=None)
    lines += ["", f"runs {len(res.runs)}: tracebacks {len(res.tracebacks)}, signals {len(res.signals)}, "
                  f"hangs {len(res.hangs)}, peak RSS {res.peak_rss_mb:.0f} MB"
                  + (f" ({peak.label})" if peak else "")
                  + f", runs over {limit_mb:.0f} MB: {len(res.over_rss(limit_mb))}, "
                  f"checks failed {sum(not c.ok for c in res.checks)} of {len(res.checks)}"]
    return "\n".join(lines)
