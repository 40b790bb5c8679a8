"""File ▸ Open from PACS… and Send reports to PACS… driven like a vet would, against a real Orthanc:
Preferences hold the server (the secret only in the keyring), the search lists the studies, Retrieve
fills a folder that the window opens, Send puts the SR (and the annotated image) into the PACS."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from io import BytesIO

import pydicom
import pytest
from PySide6.QtWidgets import QDialog

from hipvision.core.importer import import_folder
from hipvision.core.settings import AppSettings, save_settings
from hipvision.core.store import Project
from hipvision.gui.pacs_dialog import PacsDialog, SendDialog
from hipvision.gui.preferences_dialog import PreferencesDialog
from hipvision.phantom import PhantomConfig, generate_phantoms
from tests.gui.conftest import open_window
from tests.pacs.conftest import STUDY_REX_DX, USER, MemoryKeyring, orthanc, secret, use_keyring  # noqa: F401
from tests.pacs.test_sr import LANDMARKS


def test_preferences_keep_the_servers_and_put_the_password_in_the_keyring_only(qtbot, use_keyring, tmp_path):
    ring = use_keyring(MemoryKeyring())
    dialog = PreferencesDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.pacs_servers.setPlainText("http://127.0.0.1:8042/dicom-web\n\nORTHANC@127.0.0.1:4242\n")
    dialog.pacs_user.setText("hip")
    dialog.pacs_password.setText("pw-from-the-vet")
    dialog.accept()

    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.settings.pacs_servers == ("http://127.0.0.1:8042/dicom-web", "ORTHANC@127.0.0.1:4242")
    assert ring.entries[("hipvision-pacs", "hip@http://127.0.0.1:8042/dicom-web")] == "pw-from-the-vet"
    save_settings(dialog.settings, tmp_path / "settings.json")
    saved = (tmp_path / "settings.json").read_text()
    assert json.loads(saved)["pacs_username"] == "hip" and "pw-from-the-vet" not in saved


def test_preferences_without_a_keyring_say_so_and_store_nothing(qtbot, use_keyring):
    from keyring.backends.fail import Keyring as NoKeyring

    use_keyring(NoKeyring())
    dialog = PreferencesDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.pacs_servers.setPlainText("ORTHANC@127.0.0.1:4242")
    dialog.pacs_password.setText("pw")
    dialog.accept()

    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "no usable OS keyring" in dialog.error.text() and "ORTHANC@127.0.0.1:4242" in dialog.error.text()
    assert dialog.settings.pacs_servers == ()


def test_preferences_name_a_bad_server_line(qtbot):
    dialog = PreferencesDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.pacs_servers.setPlainText("pacs.clinic:104")
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "'pacs.clinic:104'" in dialog.error.text()


def _window_with_pacs(qtbot, orthanc, folder=None):  # noqa: F811
    win = open_window(qtbot, folder, with_engine=True)
    win.settings = replace(win.settings, pacs_servers=(orthanc.dicomweb,), pacs_username=USER)
    return win


def test_search_then_retrieve_opens_the_study_as_a_project(qtbot, orthanc, secret, tmp_path):  # noqa: F811
    win = _window_with_pacs(qtbot, orthanc)
    win.actions["open_pacs"].trigger()
    dialog = win.findChild(PacsDialog)
    assert dialog is not None and dialog.isVisible()

    dialog.patient_name.setText("Rex")
    dialog.search_button.click()
    # Rex's MR study is left out by the default CR/DX filter; Bella is another patient.
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1 and dialog.search_button.isEnabled(), timeout=10_000)
    assert [r.study_uid for r in dialog.records] == [STUDY_REX_DX]

    dialog.parent_folder.setText(str(tmp_path))
    assert dialog.retrieve_button.isEnabled()
    expected = tmp_path / "Rex_Dog-20240105-ACC1"  # <patient>-<date>-<accession>
    assert dialog.folder.text() == str(expected)
    dialog.retrieve_button.click()
    qtbot.waitUntil(lambda: win.project is not None and win.project.root == expected, timeout=20_000)
    assert len(win.project.images()) == 3  # the study's SR is not an image and is left out
    assert "3 image(s) saved" in dialog.status.text()


def test_search_failure_is_one_line_in_the_dialog(qtbot, orthanc, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HIPVISION_PACS_SECRET", "wrong")
    win = _window_with_pacs(qtbot, orthanc)
    dialog = win.open_from_pacs()
    dialog.search_button.click()
    qtbot.waitUntil(lambda: "failed" in dialog.status.text(), timeout=10_000)
    assert orthanc.dicomweb in dialog.status.text() and "\n" not in dialog.status.text()
    assert dialog.search_button.isEnabled()


@pytest.mark.parametrize("annotated", [False, True], ids=["sr", "sr+capture"])
def test_send_puts_the_reviewed_images_report_into_the_pacs(qtbot, orthanc, secret, tmp_path, annotated):  # noqa: F811
    folder = tmp_path / "clinic"
    (source,) = generate_phantoms(folder, 1, seed=61 if annotated else 62, config=PhantomConfig(size=256),
                                  fmt="dicom")
    meta = pydicom.dcmread(source, stop_before_pixels=True)
    orthanc.upload(source.read_bytes())
    with Project.open(folder) as project:
        import_folder(project, labels=False)
        (rec,) = project.images()
        project.save_annotation(rec.id, LANDMARKS, author="user", status="verified")  # the vet pressed V
    win = _window_with_pacs(qtbot, orthanc, folder)

    win.actions["send_pacs"].trigger()
    dialog = win.findChild(SendDialog)
    dialog.capture.setChecked(annotated)
    dialog.send_button.click()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=20_000)

    added = orthanc.instance_uids(meta.StudyInstanceUID) - {meta.SOPInstanceUID}
    assert len(added) == (2 if annotated else 1), dialog.status.text()
    classes = {pydicom.dcmread(BytesIO(orthanc.instance_file(uid))).SOPClassUID.name for uid in added}
    assert any("SR" in c for c in classes) and any("Secondary Capture" in c for c in classes) == annotated
    assert "1 report(s) sent" in win.status_text.text()
    shutil.rmtree(folder, ignore_errors=True)
