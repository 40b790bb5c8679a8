"""The robustness corpus of issue #16 (hipvision/bench/robustness_corpus.py), a CI-sized slice:
import, info, predict and measure driven in-process over the odd image folder and every hostile
label kind, judged by the same checks as `hipvision bench robustness`; then the bench's
subprocess runner on a tiny corpus."""

from __future__ import annotations

import os

import pytest

from hipvision.bench.robustness_corpus import LABEL_KINDS, CorpusConfig, build_corpus
from hipvision.bench.robustness_runner import Run, RunnerConfig, check_runs, run_corpus
from hipvision.cli import main


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    # every odd file but the two memory cases (the 15,811² PNG takes ~10 s to compress; its
    # refusal from the header is tested in tests/core/test_decode_limits.py)
    return build_corpus(tmp_path_factory.mktemp("rb") / "corpus", CorpusConfig(n_valid=1, memory_cases=False))


def _run(capsys, label: str, argv: list) -> Run:
    rc = main(argv)
    out, err = capsys.readouterr()
    return Run(label=label, rc=rc, wall_s=0.0, peak_rss_mb=0.0, stdout=out, stderr=err)


def _files(folder) -> list[bytes]:
    return sorted(os.path.join(os.fsencode(str(folder)), f) for f in os.listdir(os.fsencode(str(folder))))


def _assert_ok(checks, runs):
    failed = [c for c in checks if not c.ok]
    assert not failed, failed
    assert checks
    for run in runs.values():
        assert "Traceback" not in run.stderr + run.stdout, run.label


def test_import_info_predict_over_the_odd_image_folder(corpus, capsys, tmp_path):
    predict = ["predict", str(corpus.images), "--no-tta", "--batch-size", "1", "--out", str(tmp_path / "pred.csv")]
    runs = {"import images": _run(capsys, "import images", ["import", str(corpus.images)]),
            "predict images": _run(capsys, "predict images", predict)}
    for path in _files(corpus.images):
        raw = os.fsdecode(os.path.basename(path))
        name = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        if name.startswith("."):
            continue
        # info takes str arguments from argv (surrogate-escaped bytes), as the shell gives them
        runs[f"info {name}"] = _run(capsys, f"info {name}", ["info", os.fsdecode(path)])
    checks = check_runs(corpus, runs, tmp_path)
    _assert_ok(checks, runs)
    whats = {c.what: c for c in checks}
    assert whats["import: valid images imported"].expected == len(corpus.valid) == 6
    assert whats["info: bad images named with a reason (exit 2)"].expected >= 18
    assert runs["predict images"].rc == 1  # some left out, the rest written


@pytest.mark.parametrize("kind", sorted(LABEL_KINDS))
def test_hostile_label_kind_import_and_measure(corpus, capsys, tmp_path, kind):
    folder = dict((k.kind, f) for k, f in corpus.label_folders)[kind]
    runs = {f"import labels/{kind}": _run(capsys, "import", ["import", str(folder)])}
    if LABEL_KINDS[kind].measure_rc is not None:
        runs[f"measure labels/{kind}"] = _run(capsys, "measure", ["measure", str(folder / "truth.csv")])
    checks = check_runs(corpus, runs, tmp_path)
    _assert_ok(checks, runs)
    assert len(checks) == len(runs)


def test_the_bench_runner_counts_a_tiny_corpus_in_subprocesses(tmp_path):
    tiny = build_corpus(tmp_path / "corpus", CorpusConfig(
        n_valid=1, memory_cases=False, bad=("empty.png", "nan_slope.dcm", "lying_8000.jpg"), valid_odd=(),
        label_kinds=("list_of_one",)))
    res = run_corpus(tiny, RunnerConfig(gui="none", predict=False, timeout_s=60))
    labels = [r.label for r in res.runs]
    assert labels == ["import images", "info empty.png", "info lying_8000.jpg", "info nan_slope.dcm",
                      "info phantom_0000.png", "import labels/list_of_one"]
    assert not res.tracebacks and not res.signals and not res.hangs
    assert all(c.ok for c in res.checks), res.checks
    assert [(c.what, c.got) for c in res.checks][:4] == [
        ("import: valid images imported", 1), ("import: bad images named with a reason", 3),
        ("info: valid images described (exit 0)", 1), ("info: bad images named with a reason (exit 2)", 3)]
    assert 20 < res.peak_rss_mb < 2048
    assert (tmp_path / "corpus" / "work" / "logs").is_dir()


def test_the_bench_runner_counts_a_hang(tmp_path):
    tiny = build_corpus(tmp_path / "corpus", CorpusConfig(n_valid=1, memory_cases=False, bad=(), valid_odd=(),
                                                          label_kinds=()))
    res = run_corpus(tiny, RunnerConfig(gui="none", predict=False, timeout_s=0.2))
    assert res.hangs and res.hangs[0].label == "import images" and res.hangs[0].rc is None
