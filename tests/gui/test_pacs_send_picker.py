"""Send reports to PACS…: the images that can be sent are listed checked, the others greyed out with
the send's own reason; only the checked ones reach the PACS (the test Orthanc)."""

from __future__ import annotations

import pydicom
from PySide6.QtCore import Qt

from hipvision.core.importer import import_folder
from hipvision.core.store import Project
from hipvision.gui.pacs_send_dialog import SendDialog
from hipvision.phantom import PhantomConfig, generate_phantoms
from tests.gui.test_pacs_dialog import _window_with_pacs
from tests.pacs.conftest import orthanc, secret  # noqa: F401
from tests.pacs.test_sr import LANDMARKS


def test_only_the_checked_images_are_sent_and_the_others_say_why_not(qtbot, orthanc, secret, tmp_path):  # noqa: F811
    folder = tmp_path / "clinic"
    small = PhantomConfig(size=256)
    dicoms = generate_phantoms(folder / "dcm", 3, seed=71, config=small, fmt="dicom")
    (png,) = generate_phantoms(folder / "png", 1, seed=72, config=small, fmt="png")
    for path in dicoms:
        orthanc.upload(path.read_bytes())
    with Project.open(folder) as project:
        import_folder(project, labels=False)
        by_file = {r.abs_path.name: r for r in project.images()}
        for path in (dicoms[0], dicoms[1], png):  # the vet verified these; dicoms[2] has no landmarks
            project.save_annotation(by_file[path.name].id, LANDMARKS, author="user", status="verified")
        paths = {p: by_file[p.name].path for p in (*dicoms, png)}
    win = _window_with_pacs(qtbot, orthanc, folder)

    win.actions["send_pacs"].trigger()
    dialog = win.findChild(SendDialog)
    items = {dialog.images.item(i).data(Qt.ItemDataRole.UserRole): dialog.images.item(i)
             for i in range(dialog.images.count())}
    assert set(items) == set(paths.values())
    sendable = {p for p, item in items.items() if item.flags() & Qt.ItemFlag.ItemIsEnabled}
    assert sendable == {paths[dicoms[0]], paths[dicoms[1]]}
    assert dialog.checked() == tuple(sorted(sendable, key=list(items).index))  # all checked by default
    assert "PNG file, not DICOM" in items[paths[png]].text()
    assert "no landmarks to report" in items[paths[dicoms[2]]].text()
    assert dialog.send_button.text() == "&Send 2 reports"

    items[paths[dicoms[1]]].setCheckState(Qt.CheckState.Unchecked)  # the vet unticks one
    assert dialog.checked() == (paths[dicoms[0]],) and dialog.send_button.text() == "&Send 1 report"
    dialog.send_button.click()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=20_000)

    assert [s.name for s in dialog.report.sent] == [by_file[dicoms[0].name].name] and not dialog.report.refused
    for path, expect_sr in ((dicoms[0], True), (dicoms[1], False)):
        meta = pydicom.dcmread(path, stop_before_pixels=True)
        added = orthanc.instance_uids(meta.StudyInstanceUID) - {meta.SOPInstanceUID}
        assert len(added) == int(expect_sr), path.name


def test_nothing_checked_nothing_to_send(qtbot, orthanc, secret, tmp_path):  # noqa: F811
    folder = tmp_path / "clinic"
    (png,) = generate_phantoms(folder, 1, seed=73, config=PhantomConfig(size=256), fmt="png")
    with Project.open(folder) as project:
        import_folder(project, labels=False)
    win = _window_with_pacs(qtbot, orthanc, folder)
    dialog = win.send_to_pacs()
    assert dialog.images.count() == 1 and dialog.checked() == ()
    assert not dialog.send_button.isEnabled() and dialog.send_button.text() == "&Send 0 reports"
