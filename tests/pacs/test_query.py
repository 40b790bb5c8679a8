"""`query_studies` and `hipvision pacs query` against a real Orthanc, over DICOMweb and DIMSE."""


import pytest

from hipvision.pacs import parse_server
from hipvision.pacs.query import StudyQuery, query_studies
from tests.pacs.conftest import STUDY_BELLA_CR, STUDY_REX_DX, STUDY_REX_MR, USER


def server_of(orthanc, protocol):
    if protocol == "dicomweb":
        return parse_server(orthanc.dicomweb, username=USER)
    return parse_server(orthanc.dimse)


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
