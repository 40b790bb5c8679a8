"""File ▸ Open from PACS… and Send reports to PACS… driven like a vet would, against a real Orthanc:
Preferences hold the server (the secret only in the keyring), the search lists the studies, Retrieve
fills a folder that the window opens, Send puts the SR (and the annotated image) into the PACS."""

from __future__ import annotations

import json
import logging
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
from hipvision.gui.preferences_dialog import PreferencesDialog, pacs_servers
from hipvision.pacs import secret_for
from hipvision.phantom import PhantomConfig, generate_phantoms
from tests.gui.conftest import open_window
from tests.pacs.conftest import STUDY_REX_DX, USER, MemoryKeyring, orthanc, secret, use_keyring  # noqa: F401
from tests.pacs.test_sr import LANDMARKS


def test_preferences_keep_the_servers_and_put_the_password_in_the_keyring_only(qtbot, use_keyring, tmp_path):
    ring = use_keyring(MemoryKeyring())
    dialog = PreferencesDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.pacs.add_row("http://127.0.0.1:8042/dicom-web", "hip", "pw-from-the-vet")
    dialog.pacs.add_row()  # an empty row is left out
    dialog.pacs.add_row("ORTHANC@127.0.0.1:4242", "dimse-user", "other-pw")
    dialog.accept()

    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.settings.pacs_servers == ("http://127.0.0.1:8042/dicom-web", "ORTHANC@127.0.0.1:4242")
    # Each server its own user and its own secret, keyed (user, server).
    assert ring.entries == {("hipvision-pacs", "hip@http://127.0.0.1:8042/dicom-web"): "pw-from-the-vet",
                            ("hipvision-pacs", "dimse-user@ORTHANC@127.0.0.1:4242"): "other-pw"}
    assert all(not dialog.pacs.password_field(r).text() for r in range(dialog.pacs.table.rowCount()))
    save_settings(dialog.settings, tmp_path / "settings.json")
    saved = (tmp_path / "settings.json").read_text()
    assert json.loads(saved)["pacs_users"] == {"http://127.0.0.1:8042/dicom-web": "hip",
                                               "ORTHANC@127.0.0.1:4242": "dimse-user"}
    assert "pw-from-the-vet" not in saved and "other-pw" not in saved


def test_preferences_show_the_one_user_of_an_older_file_on_every_server_and_edit_each(qtbot, use_keyring,
                                                                                     tmp_path):
    ring = use_keyring(MemoryKeyring())
    old = AppSettings.from_dict({"pacs_servers": ["http://pacs:8042/dicom-web", "ORTHANC@pacs:4242"],
                                 "pacs_username": "hip"})
    assert [s.username for s in pacs_servers(old)] == ["hip", "hip"]
    dialog = PreferencesDialog(old)
    qtbot.addWidget(dialog)
    table = dialog.pacs.table
    assert [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())] == [
        ("http://pacs:8042/dicom-web", "hip"), ("ORTHANC@pacs:4242", "hip")]
    table.item(1, 1).setText("")  # the DIMSE server takes no user
    dialog.pacs.password_field(1).setText("a-token")
    dialog.accept()

    assert dialog.result() == QDialog.DialogCode.Accepted
    servers = pacs_servers(dialog.settings)
    assert [s.username for s in servers] == ["hip", ""]
    assert ring.entries == {("hipvision-pacs", "ORTHANC@pacs:4242"): "a-token"}  # the token is the server's own
    assert secret_for(servers[1]) == "a-token" and secret_for(servers[0]) is None
    save_settings(dialog.settings, tmp_path / "settings.json")
    assert "a-token" not in (tmp_path / "settings.json").read_text()


def test_preferences_refuse_a_password_without_a_server(qtbot, use_keyring):
    ring = use_keyring(MemoryKeyring())
    dialog = PreferencesDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.pacs.add_row("", "vet", "pw")
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.error.text() == "PACS servers, row 1: a user name or password needs a server"
    assert ring.entries == {}


def test_preferences_without_a_keyring_say_so_and_store_nothing(qtbot, use_keyring):
    from keyring.backends.fail import Keyring as NoKeyring

    use_keyring(NoKeyring())
    dialog = PreferencesDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.pacs.add_row("ORTHANC@127.0.0.1:4242", "", "pw")
    dialog.accept()

    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "no usable OS keyring" in dialog.error.text() and "ORTHANC@127.0.0.1:4242" in dialog.error.text()
    assert dialog.settings.pacs_servers == ()


def test_preferences_name_a_bad_server_line(qtbot):
    dialog = PreferencesDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.pacs.add_row("pacs.clinic:104")
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "'pacs.clinic:104'" in dialog.error.text()


def _window_with_pacs(qtbot, orthanc, folder=None):  # noqa: F811
    win = open_window(qtbot, folder, with_engine=True)
    win.settings = replace(win.settings, pacs_servers=(orthanc.dicomweb,), pacs_users=((orthanc.dicomweb, USER),))
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
    # The study opens with its first image (test_pacs_live_open.py); here, all of it once the retrieve ends.
    qtbot.waitUntil(lambda: "image(s) saved" in dialog.status.text(), timeout=20_000)
    assert win.project is not None and win.project.root == expected
    assert len(win.project.images()) == 3  # the study's SR is not an image and is left out
    assert "3 image(s) saved" in dialog.status.text()


def test_a_pacs_without_c_get_sends_the_study_by_c_move_to_the_settings_port(qtbot, orthanc, tmp_path):  # noqa: F811
    # MOVER is a PACS policy without C-GET: the window's retrieve falls back to C-MOVE, and the
    # images come to our AE title at the port Preferences/settings name.
    win = open_window(qtbot, None, with_engine=True)
    prefs = PreferencesDialog(replace(win.settings, pacs_servers=(orthanc.dimse,)))
    qtbot.addWidget(prefs)
    prefs.pacs_ae.setText("MOVER")
    prefs.pacs_move_port.setValue(orthanc.move_port)  # the port the PACS has for our AE title
    prefs.accept()
    assert prefs.result() == QDialog.DialogCode.Accepted, prefs.error.text()
    win.settings = prefs.settings
    assert win.settings.pacs_move_port == orthanc.move_port
    dialog = win.open_from_pacs()
    dialog.patient_name.setText("Bella")
    dialog.search_button.click()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1 and dialog.search_button.isEnabled(), timeout=10_000)
    dialog.table.selectRow(0)
    dialog.parent_folder.setText(str(tmp_path))
    dialog.retrieve_button.click()
    qtbot.waitUntil(lambda: "image(s) saved" in dialog.status.text() or "failed" in dialog.status.text(),
                    timeout=20_000)
    assert "1 image(s) saved" in dialog.status.text(), dialog.status.text()
    assert win.project is not None and len(win.project.images()) == 1


@pytest.mark.parametrize("backend", ["thread", "process"])
def test_search_failure_is_said_once_in_the_dialog_without_a_traceback(qtbot, orthanc, tmp_path, monkeypatch,  # noqa: F811
                                                                       caplog, backend):
    monkeypatch.setenv("HIPVISION_PACS_SECRET", "wrong")
    monkeypatch.setenv("HIPVISION_ENGINE", backend)
    win = _window_with_pacs(qtbot, orthanc)
    dialog = win.open_from_pacs()
    caplog.set_level(logging.INFO)
    dialog.search_button.click()
    qtbot.waitUntil(lambda: "failed" in dialog.status.text(), timeout=20_000)
    qtbot.wait(50)  # anything else the failure would show, shown by now
    assert dialog.status.text() == (f"Search failed: {orthanc.dicomweb} refused the credentials (HTTP 401); "
                                    "check the user name and secret")
    assert dialog.search_button.isEnabled()
    assert not win.banner.isVisible() and win.banner_message == ""  # not said again over the window
    # A refused password is the user's to fix: one warning line in the log, no traceback, no secret.
    failures = [r for r in caplog.records if "pacs_search" in r.getMessage()]
    assert [r.levelname for r in failures] == ["WARNING"], [r.getMessage() for r in failures]
    assert not any("Traceback" in r.getMessage() or "wrong" in r.getMessage().split("failed:")[0]
                   for r in caplog.records)

    dialog.close()  # closed while its search runs: then the window's banner is the only place left to say it
    dialog.search()
    qtbot.waitUntil(lambda: "refused the credentials" in win.banner_message, timeout=20_000)


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
