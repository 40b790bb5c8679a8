"""`hipvision bench gui` runs end to end (tiny images); its figures are not checked here —
speed is read from the benchmark's output, never asserted by a timed test."""

from hipvision.cli import main


def test_bench_gui_smoke(qapp, tmp_path, capsys):
    rc = main(["bench", "gui", "--size", "400", "--launches", "1", "--moves", "6", "--switches", "1",
               "--retrain-images", "0", "--keep", str(tmp_path / "bench")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "torch imported: no" in out
    for figure in ("launch -> window shown", "drag move -> readout (handler)", "image switch 400^2, read ahead"):
        assert figure in out
