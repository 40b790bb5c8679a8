"""Find studies on a PACS: `query_studies(server, StudyQuery(...))` over QIDO-RS or C-FIND (Study Root)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime

from hipvision.pacs.connect import association, check_status, search_all, web_client, web_errors
from hipvision.pacs.server import PacsError, PacsServer

_MODALITY_RE = re.compile(r"^[A-Z0-9]{1,16}$")
# What a study row shows; asked for explicitly, since a QIDO server returns few fields by default.
_STUDY_FIELDS = ("StudyInstanceUID", "PatientName", "PatientID", "StudyDate", "StudyDescription", "AccessionNumber",
                 "ModalitiesInStudy", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances")


def _check_text(field: str, value: str, limit: int) -> None:
    if not isinstance(value, str) or len(value) > limit or any(c in value for c in "\\\r\n\t"):
        raise ValueError(f"StudyQuery.{field}: {value!r} must be text of at most {limit} characters without "
                         "backslashes or line breaks")


def _check_date(field: str, value: str) -> None:
    if value:
        try:
            if not re.fullmatch(r"\d{8}", value):
                raise ValueError
            datetime.strptime(value, "%Y%m%d")
        except ValueError:
            raise ValueError(f"StudyQuery.{field}: expected a date YYYYMMDD, got {value!r}") from None


@dataclass(frozen=True)
class StudyQuery:
    """Filters of a study search; empty fields match everything. `patient_name` matches by prefix
    unless it holds a wildcard (`*`, `?`), as vets type "Rex" for "Rex^Dog". `modalities`: studies
    holding any of them (empty: any modality)."""

    patient_name: str = ""
    patient_id: str = ""
    date_from: str = ""
    date_to: str = ""
    modalities: tuple[str, ...] = ("CR", "DX")
    accession: str = ""

    def __post_init__(self) -> None:
        _check_text("patient_name", self.patient_name, 64 * 5)
        _check_text("patient_id", self.patient_id, 64)
        _check_text("accession", self.accession, 16)
        _check_date("date_from", self.date_from)
        _check_date("date_to", self.date_to)
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(f"StudyQuery.date_from: {self.date_from} is after date_to {self.date_to}")
        if not isinstance(self.modalities, tuple) or not all(
                isinstance(m, str) and _MODALITY_RE.match(m) for m in self.modalities):
            raise ValueError(f"StudyQuery.modalities: expected a tuple of modality codes like ('CR', 'DX'), "
                             f"got {self.modalities!r}")

    @property
    def name_pattern(self) -> str:
        name = self.patient_name.strip()
        return name if not name or any(c in name for c in "*?") else name + "*"

    @property
    def date_range(self) -> str:
        """DICOM range matching: "from-to", "from-", "-to", or "" for any date."""
        if not self.date_from and not self.date_to:
            return ""
        return f"{self.date_from}-{self.date_to}"


@dataclass(frozen=True)
class StudyRecord:
    """One study as the PACS describes it (counts are None when the server does not say)."""

    study_uid: str
    patient_name: str = ""
    patient_id: str = ""
    study_date: str = ""
    study_description: str = ""
    accession: str = ""
    modalities: tuple[str, ...] = ()
    series_count: int | None = None
    instance_count: int | None = None

    def __post_init__(self) -> None:
        if not self.study_uid or not re.fullmatch(r"[0-9.]{1,64}", self.study_uid):
            raise ValueError(f"StudyRecord.study_uid: {self.study_uid!r} is not a UID")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["modalities"] = list(self.modalities)
        return out


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _record(ds) -> StudyRecord | None:
    """A StudyRecord from a response dataset; None for a row without a usable study UID."""
    modalities = ds.get("ModalitiesInStudy", "")
    if isinstance(modalities, str):
        modalities = [modalities] if modalities else []
    try:
        return StudyRecord(
            study_uid=str(ds.get("StudyInstanceUID", "")).strip(),
            patient_name=str(ds.get("PatientName", "") or ""),
            patient_id=str(ds.get("PatientID", "") or ""),
            study_date=str(ds.get("StudyDate", "") or ""),
            study_description=str(ds.get("StudyDescription", "") or ""),
            accession=str(ds.get("AccessionNumber", "") or ""),
            modalities=tuple(str(m) for m in modalities if m),
            series_count=_int_or_none(ds.get("NumberOfStudyRelatedSeries")),
            instance_count=_int_or_none(ds.get("NumberOfStudyRelatedInstances")),
        )
    except ValueError:
        return None


def query_studies(server: PacsServer, query: StudyQuery) -> list[StudyRecord]:
    """The studies on `server` matching `query`, newest first.

    One request per modality (merged by study UID): a list of modalities in one ModalitiesInStudy
    key is read differently by different servers (some as a literal "CR\\DX"), one value is not.
    """
    search = _qido if server.kind == "dicomweb" else _cfind
    found: dict[str, StudyRecord] = {}
    for modality in query.modalities or ("",):
        for record in search(server, query, modality):
            found.setdefault(record.study_uid, record)
    return sorted(found.values(), key=lambda r: (r.study_date, r.patient_name, r.study_uid), reverse=True)


def _qido(server: PacsServer, query: StudyQuery, modality: str) -> list[StudyRecord]:
    from pydicom import Dataset

    filters = {"PatientName": query.name_pattern, "PatientID": query.patient_id, "StudyDate": query.date_range,
               "AccessionNumber": query.accession, "ModalitiesInStudy": modality}
    client = web_client(server)
    with web_errors(server, "query"):
        rows = search_all(lambda limit, offset: client.search_for_studies(
            search_filters={k: v for k, v in filters.items() if v}, fields=list(_STUDY_FIELDS),
            limit=limit, offset=offset), key=lambda row: str(row.get("0020000D", {}).get("Value", [""])[0]))
    records = []
    for row in rows:
        try:
            record = _record(Dataset.from_json(row))
        except Exception:  # noqa: BLE001 - one malformed row from the server must not hide the others
            continue
        if record is not None:
            records.append(record)
    return records


def _cfind(server: PacsServer, query: StudyQuery, modality: str) -> list[StudyRecord]:
    from pydicom import Dataset
    from pynetdicom import build_context
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    for keyword in _STUDY_FIELDS:
        setattr(identifier, keyword, "")
    identifier.PatientName = query.name_pattern
    identifier.PatientID = query.patient_id
    identifier.StudyDate = query.date_range
    identifier.AccessionNumber = query.accession
    identifier.ModalitiesInStudy = modality
    records = []
    with association(server, [build_context(FIND)]) as assoc:
        for status, ds in assoc.send_c_find(identifier, FIND):
            code = check_status(server, status, "query")
            if code in (0xFF00, 0xFF01):
                record = _record(ds) if ds is not None else None
                if record is not None:
                    records.append(record)
            elif code != 0x0000:
                raise PacsError(f"{server.label}: query failed (C-FIND status 0x{code:04X})")
    return records
