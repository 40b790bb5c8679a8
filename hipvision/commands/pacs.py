"""`hipvision pacs query|retrieve|send`: find studies on the clinic's PACS, fetch one into a project
folder, and send the measurements of reviewed images back as DICOM SR.

`--server` is a DICOMweb base URL (`http(s)://host:port/dicom-web`) or `AET@host:port` (DIMSE). The
password or bearer token comes from the OS keyring (service "hipvision-pacs") or HIPVISION_PACS_SECRET,
never from the command line, where it would sit in the shell history and the process list.
"""

from __future__ import annotations

# Flags named in the messages of StudyQuery's validation, so an error points at what was typed.
_QUERY_FLAGS = {"StudyQuery.patient_name": "--patient-name", "StudyQuery.patient_id": "--patient-id",
                "StudyQuery.date_from": "--from", "StudyQuery.date_to": "--to",
                "StudyQuery.modalities": "--modality", "StudyQuery.accession": "--accession"}


def _server_flags(p) -> None:
    p.add_argument("--server", required=True, metavar="S",
                   help="DICOMweb base URL (http(s)://host:port/dicom-web) or AET@host:port for DIMSE")
    p.add_argument("--calling-ae", default="HIPVISION", metavar="AET", help="our AE title (default HIPVISION)")
    p.add_argument("--user", default="", help="user name for the PACS; the secret comes from the OS keyring "
                                              "or HIPVISION_PACS_SECRET (without --user: a bearer token)")
    p.add_argument("--tls", action="store_true", help="DIMSE over TLS (a DICOMweb URL says it with https)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="network timeout (default 30)")


def register(sub) -> None:
    p = sub.add_parser("pacs", help="query, retrieve and send back to a PACS (DICOMweb or DIMSE)",
                       description="Work with the clinic's PACS: find studies, fetch one into a project folder.")
    psub = p.add_subparsers(dest="pacs_command", metavar="ACTION", required=True)

    q = psub.add_parser("query", help="list the studies matching the filters",
                        description="Search for studies (QIDO-RS or C-FIND). Empty filters match everything; "
                                    "--patient-name matches by prefix unless it holds * or ?.")
    _server_flags(q)
    q.add_argument("--patient-name", default="", metavar="NAME")
    q.add_argument("--patient-id", default="", metavar="ID")
    q.add_argument("--from", dest="date_from", default="", metavar="YYYYMMDD", help="study date on or after")
    q.add_argument("--to", dest="date_to", default="", metavar="YYYYMMDD", help="study date on or before")
    q.add_argument("--modality", default="CR,DX", metavar="M[,M...]",
                   help="studies holding any of these modalities (default CR,DX; 'any' for all)")
    q.add_argument("--accession", default="", metavar="NUMBER")
    q.add_argument("--json", action="store_true", help="print the studies as JSON instead of a table")
    q.set_defaults(func=run_query)

    r = psub.add_parser("retrieve", help="fetch one study into a folder and import it into its project",
                        description="Fetch every image of the study (WADO-RS, C-GET or C-MOVE) into FOLDER as "
                                    "<SOPInstanceUID>.dcm, then register them in FOLDER's project. Objects "
                                    "without pixel data (SR, KO, PR) are listed and not written.")
    _server_flags(r)
    r.add_argument("--study", required=True, metavar="UID", help="Study Instance UID (from `hipvision pacs query`)")
    r.add_argument("--into", required=True, metavar="FOLDER", help="project folder (created if missing)")
    r.add_argument("--method", choices=("auto", "get", "move"), default="auto",
                   help="DIMSE only: C-GET, C-MOVE, or auto (C-GET, and C-MOVE when the PACS refuses C-GET)")
    r.add_argument("--move-port", type=int, default=None, metavar="N",
                   help="port HipVision listens on for a C-MOVE; the PACS must know our AE title at this "
                        "computer's address and this port (default: the pacs_move_port setting, 11112)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=run_retrieve)
    _register_send(psub)


def _server(args):
    from hipvision.pacs.server import parse_server

    return parse_server(args.server, calling_ae=args.calling_ae, username=args.user, tls=args.tls,
                        timeout_s=args.timeout)


def _modalities(text: str) -> tuple[str, ...]:
    if text.strip().lower() in ("", "any", "all"):
        return ()
    return tuple(m.strip().upper() for m in text.split(",") if m.strip())


def run_query(args) -> int:
    import json

    from hipvision.cli import CommandError
    from hipvision.pacs.query import StudyQuery, query_studies

    try:
        query = StudyQuery(patient_name=args.patient_name, patient_id=args.patient_id, date_from=args.date_from,
                           date_to=args.date_to, modalities=_modalities(args.modality), accession=args.accession)
    except ValueError as exc:
        text = str(exc)
        for field, flag in _QUERY_FLAGS.items():
            text = text.replace(field, flag)
        raise CommandError(text) from None
    records = query_studies(_server(args), query)
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=1, ensure_ascii=False))
        return 0
    if not records:
        print("no matching studies")
        return 0
    rows = [("DATE", "PATIENT", "ID", "ACCESSION", "MODALITIES", "IMAGES", "STUDY UID")]
    for r in records:
        rows.append((_date(r.study_date), r.patient_name.replace("^", " ").strip(), r.patient_id, r.accession,
                     ",".join(r.modalities), "" if r.instance_count is None else str(r.instance_count), r.study_uid))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return 0


def _date(text: str) -> str:
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else text


def run_retrieve(args) -> int:
    from pathlib import Path

    from hipvision.cli import CommandError
    from hipvision.commands._progress import tqdm_progress
    from hipvision.core.importer import import_folder
    from hipvision.core.store import Project
    from hipvision.pacs.retrieve import RetrieveConfig, retrieve_study

    try:
        config = RetrieveConfig(server=_server(args), study_uid=args.study.strip(), into=Path(args.into),
                                method=args.method, move_port=_move_port(args))
    except ValueError as exc:
        text = str(exc)
        for field, flag in (("study_uid", "--study"), ("into", "--into"), ("method", "--method"),
                            ("move_port", "--move-port")):
            text = text.replace(f"RetrieveConfig.{field}", flag)
        raise CommandError(text) from None
    bar, progress = tqdm_progress("retrieve", unit="obj", disable=args.quiet)
    try:
        report = retrieve_study(config, progress=progress)
    finally:
        bar.close()  # so that an error is printed on a line of its own
    for uid, reason in report.skipped:
        print(f"skipped: {uid}: {reason}")
    print(f"{config.into}: {report.summary()} from {config.server.label}")
    if not report.saved:
        raise CommandError(f"study {config.study_uid} holds no images")
    with Project.open(config.into) as project:
        if project.read_only:
            raise CommandError(f"cannot import: {project.location.notice}")
        bar, progress = tqdm_progress("import", unit="img", disable=args.quiet)
        try:
            imported = import_folder(project, progress=progress)
        finally:
            bar.close()
        for rel, reason in imported.errors:
            print(f"unreadable: {rel}: {reason}")
        print(f"{project.root}: {imported.summary()}")
    return 0


def _move_port(args) -> int:
    """--move-port, else the user's setting (the one Preferences edits), else the default."""
    if args.move_port is not None:
        return args.move_port
    from hipvision.core.settings import AppSettings, SettingsError, load_settings

    try:
        return load_settings().pacs_move_port
    except SettingsError:  # a broken settings file is the GUI's to report; the default port still works
        return AppSettings().pacs_move_port


def _register_send(psub) -> None:
    s = psub.add_parser("send", help="send the measurements of reviewed images back as DICOM SR",
                        description="For each reviewed image of PROJECT whose source is DICOM: a Structured "
                                    "Report (TID 1500: NA per side, head radius and centre distance in mm when "
                                    "the spacing is known, landmarks as SCOORD on the source image, grade hint, "
                                    "observers), and with --secondary-capture the annotated image, stored by "
                                    "STOW-RS or C-STORE. A re-send after an edit is a new SR that names the "
                                    "earlier one as its predecessor.")
    s.add_argument("project", metavar="PROJECT", help="project folder")
    _server_flags(s)
    s.add_argument("--images", default="", metavar="NAME[,NAME...]",
                   help="these images only (default: every verified or edited image)")
    s.add_argument("--secondary-capture", action="store_true", help="also send the annotated image")
    s.add_argument("--observer", default=None, metavar="FAMILY^GIVEN",
                   help="the reader's name for the report (default: the annotation's author)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=run_send)


def run_send(args) -> int:
    import os
    import sys

    from hipvision.cli import CommandError
    from hipvision.commands._progress import tqdm_progress
    from hipvision.core.store import find_project
    from hipvision.pacs.send_reports import SendConfig, send_reports

    names = tuple(n.strip() for n in args.images.split(",") if n.strip())
    try:
        config = SendConfig(server=_server(args), images=names, secondary_capture=args.secondary_capture,
                            observer=args.observer)
    except ValueError as exc:
        raise CommandError(str(exc).replace("SendConfig.", "--")) from None
    capture = None
    if config.secondary_capture:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # drawn offscreen, like `hipvision render`
        from hipvision.gui.secondary_capture import secondary_capture as capture
    project = find_project(args.project)
    if project is None:
        raise CommandError(f"{args.project}: no HipVision project here (hipvision import FOLDER first)")
    if project.read_only:
        project.close()  # what was sent must be recorded, or a re-send could not name its predecessor
        raise CommandError(f"cannot send: {project.location.notice}")
    with project:
        bar, progress = tqdm_progress("send", unit="img", disable=args.quiet)
        try:
            report = send_reports(config, project, progress=progress, capture=capture)
        finally:
            bar.close()
    for item in report.sent:
        na = ", ".join(f"{side} NA {value:.1f}°" for side, value in sorted(item.na.items()))
        again = f" (replaces {item.predecessor})" if item.predecessor else ""
        print(f"sent: {item.name}: SR {item.sop_uid}{again}: {na}"
              + (f"; secondary capture {item.capture_uid}" if item.capture_uid else ""))
    for name, why in report.refused:
        print(f"not sent: {name}: {why}", file=sys.stderr)
    print(f"{config.server.label}: {report.summary()}")
    if not report.sent:
        return 2 if report.refused else 0
    return 1 if report.refused else 0
