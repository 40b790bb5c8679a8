"""`query_studies` and `hipvision pacs query` against a real Orthanc, over DICOMweb and DIMSE."""


import json

import pytest

from hipvision.cli import main
from hipvision.pacs.query import StudyQuery, query_studies
from tests.pacs.conftest import STUDY_BELLA_CR, STUDY_REX_DX, STUDY_REX_MR, cli_server, server_of


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_query_filters(orthanc, secret, protocol):
    server = server_of(orthanc, protocol)
    # Default modalities CR/DX: the MR study is left out.
    found = query_studies(server, StudyQuery())
    assert [r.study_uid for r in found] == [STUDY_BELLA_CR, STUDY_REX_DX]  # newest first
    rex = found[1]
    assert (rex.patient_name, rex.patient_id, rex.study_date, rex.accession) == ("Rex^Dog", "P1", "20240105", "ACC1")
    assert "DX" in rex.modalities and rex.instance_count == 4 and rex.series_count == 3
    # A name prefix, as typed.
    assert [r.study_uid for r in query_studies(server, StudyQuery(patient_name="Bel"))] == [STUDY_BELLA_CR]
    # Any modality, one patient, a date range.
    assert [r.study_uid for r in query_studies(server, StudyQuery(patient_id="P1", modalities=()))] == [
        STUDY_REX_MR, STUDY_REX_DX]
    assert [r.study_uid for r in query_studies(server, StudyQuery(date_from="20240201", date_to="20240229",
                                                                  modalities=("MR",)))] == [STUDY_REX_MR]
    assert [r.study_uid for r in query_studies(server, StudyQuery(accession="ACC3"))] == [STUDY_BELLA_CR]
    assert query_studies(server, StudyQuery(date_to="20231231")) == []


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_query_command_table_and_json(orthanc, secret, protocol, capsys):
    assert main(["pacs", "query", *cli_server(orthanc, protocol), "--patient-id", "P1", "--modality", "DX,MR"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["DATE", "PATIENT", "ID"]
    assert [line.split()[-1] for line in lines[1:]] == [STUDY_REX_MR, STUDY_REX_DX]
    assert lines[2].startswith("2024-01-05  Rex Dog")

    assert main(["pacs", "query", *cli_server(orthanc, protocol), "--from", "20240301", "--json"]) == 0
    (study,) = json.loads(capsys.readouterr().out)
    assert study["study_uid"] == STUDY_BELLA_CR and study["patient_name"] == "Bella^Cat"
    assert study["modalities"] == ["CR"] and study["instance_count"] == 1


def test_query_command_names_the_bad_flag(capsys):
    assert main(["pacs", "query", "--server", "PACS@127.0.0.1:104", "--from", "2024-01-01"]) == 2
    assert capsys.readouterr().err.strip() == (
        "hipvision pacs: error: --from: expected a date YYYYMMDD, got '2024-01-01'")
