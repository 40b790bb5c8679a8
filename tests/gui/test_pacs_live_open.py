"""Retrieve and open: the study opens with its first image and the image list grows as the others
arrive, while the retrieve is still running (the vet reads image 1 while 2..n download). Against the
test Orthanc, with both engine backends (the app's "process" runs the retrieve in its child)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hipvision.pacs import jobs as pacs_jobs
from tests.gui.conftest import open_window
from tests.gui.pacs_held_retrieve import GATE_ENV, held_retrieve, open_gate
from tests.pacs.conftest import USER, orthanc, secret  # noqa: F401


@pytest.mark.parametrize("backend", ["thread", "process"])
def test_the_study_opens_with_its_first_image_while_the_rest_downloads(qtbot, orthanc, secret, tmp_path,  # noqa: F811
                                                                       monkeypatch, backend):
    gate = tmp_path / "gate"
    monkeypatch.setenv(GATE_ENV, str(gate))  # before the window: the engine's child inherits it
    monkeypatch.setenv("HIPVISION_ENGINE", backend)
    monkeypatch.setattr(pacs_jobs, "retrieve", held_retrieve)  # held after each image until let through
    win = open_window(qtbot, None, with_engine=True)
    engine = win.engine_bridge.engine
    assert engine.backend == backend
    win.settings = replace(win.settings, pacs_servers=(orthanc.dicomweb,), pacs_users=((orthanc.dicomweb, USER),))
    dialog = win.open_from_pacs()
    dialog.patient_name.setText("Rex")
    dialog.search_button.click()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1 and dialog.search_button.isEnabled(), timeout=10_000)
    dialog.parent_folder.setText(str(tmp_path / "studies"))
    try:
        dialog.retrieve_button.click()
        (job_id,) = [j for j, what in dialog._mine.items() if what == "retrieve"]
        expected = tmp_path / "studies" / "Rex_Dog-20240105-ACC1"
        qtbot.waitUntil(lambda: win.project is not None and win.project.root == expected, timeout=15_000)
        # Open with one image listed and shown, while the retrieve still runs (held after image 1).
        assert len(win.image_list.visible_ids()) == 1 and win.current_image_id is not None
        assert job_id in engine.active
        first = win.current_image_id
        if backend == "process":
            assert engine.child_pid() is not None  # the retrieve really runs in the child
        open_gate(gate, 1)  # image 2 arrives and joins the list; the retrieve is held again
        qtbot.waitUntil(lambda: len(win.image_list.visible_ids()) == 2, timeout=10_000)
        assert job_id in engine.active and win.current_image_id == first
    finally:
        open_gate(gate, 99)
    qtbot.waitUntil(lambda: job_id not in engine.active, timeout=20_000)
    assert len(win.image_list.visible_ids()) == 3 and len(win.project.images()) == 3
    assert win.current_image_id == first  # the image the vet is reading stays on screen
    assert "3 image(s) saved" in dialog.status.text()
