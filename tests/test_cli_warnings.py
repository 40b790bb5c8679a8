"""Library warnings (the warnings module; pydicom's and tifffile's loggers) print as one line
each, apart from the command's one-line error, never as a source path and a code line."""

import logging
import warnings

from hipvision.cli import main


def test_library_warnings_never_join_the_one_line_error(tmp_path, monkeypatch, capsys):
    from hipvision.core import radiograph

    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"DICM")

    def noisy_decoder(path, **kw):  # what pydicom and tifffile do on a damaged file
        text = "Invalid value for VR UI: '1.2.3.abc'. Please see\n <https://dicom.nema.org>"
        warnings.warn(text, UserWarning, stacklevel=2)
        logging.getLogger("pydicom").warning(text)  # pydicom's warn_and_log does both
        logging.getLogger("tifffile").warning("<tifffile.TiffPage 0 @8> invalid\ntag")
        raise radiograph.RadiographError(path, "cannot decode pixel data")

    monkeypatch.setattr(radiograph, "load_radiograph", noisy_decoder)
    # raster_io quiets tifffile once it has read a TIFF (an earlier test may have): undo that here.
    monkeypatch.setattr(logging.getLogger("tifffile"), "level", logging.NOTSET)
    assert main(["info", str(bad)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "hipvision info: warning: Invalid value for VR UI: '1.2.3.abc'. Please see <https://dicom.nema.org>",
        "hipvision info: warning: <tifffile.TiffPage 0 @8> invalid tag",
        f"hipvision info: error: {bad}: cannot decode pixel data",
    ]
    # outside a command, warnings go back to Python's own handling
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        warnings.warn("after", UserWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["after"]
    assert not any(type(h).__name__ == "_WarningLines" for h in logging.getLogger().handlers)
