"""`hipvision predict FOLDER` with bad files among good ones: every good image is predicted and
written, each bad file is one stderr line 'FILE: reason', and the exit status says so."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from hipvision.cli import main
from hipvision.core.dicom_write import write_dicom
from hipvision.core.interchange import read_csv
from hipvision.core.radiograph import RadiographError, load_radiograph
from hipvision.phantom import PhantomConfig, generate_phantoms

# display name -> what its stderr line must say
BAD = {
    "truncated.png": "truncated.png: ",
    "empty.png": "empty.png: ",
    "nan.tif": "nan.tif: pixel values are not finite",
    "nan_slope.dcm": "nan_slope.dcm: pixel values are not finite",
    "huge_slope.dcm": "huge_slope.dcm: pixel values are not finite",
    "bad\\xff.png": "bad\\xff.png: file name is not valid UTF-8",
}


def _write_bad_files(folder) -> None:
    import tifffile

    png = (folder / "phantom_0000.png").read_bytes()
    (folder / "truncated.png").write_bytes(png[: len(png) // 2])
    (folder / "empty.png").write_bytes(b"")
    pixels = np.full((64, 64), 100.0, np.float32)
    pixels[10, 10] = np.nan
    tifffile.imwrite(folder / "nan.tif", pixels)
    stored = np.full((64, 64), 200, np.uint16)
    write_dicom(folder / "nan_slope.dcm", stored, spacing=(0.1, 0.1), extra={"RescaleSlope": float("nan")})
    write_dicom(folder / "huge_slope.dcm", stored, spacing=(0.1, 0.1), extra={"RescaleSlope": 1e38})  # -> inf
    with open(os.path.join(os.fsencode(str(folder)), b"bad\xff.png"), "wb") as f:
        f.write(png)  # a valid image: only its name is bad


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mixed")
    generate_phantoms(folder, 2, seed=1, config=PhantomConfig(size=192))
    _write_bad_files(folder)
    return folder


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_predict_folder_writes_the_good_images_and_names_each_bad_one(mixed_folder, tmp_path, capsys, fmt):
    out = tmp_path / f"pred.{fmt}"
    rc = main(["predict", str(mixed_folder), "--out", str(out), "--format", fmt, "--no-tta"])
    err = capsys.readouterr().err
    assert rc == 1, err  # some files left out, the rest written
    if fmt == "csv":
        names = {item.image.rsplit("/", 1)[-1] for item in read_csv(out)}
    else:
        names = {row["image"].rsplit("/", 1)[-1] for row in json.loads(out.read_text())}
    assert names == {"phantom_0000.png", "phantom_0001.png"}
    lines = err.splitlines()
    for name, said in BAD.items():
        assert any(said in line for line in lines), f"{name} not reported:\n{err}"
    assert "Traceback" not in err
    assert f"{len(BAD)} of {len(BAD) + 2} image(s) left out" in err


def test_predict_with_no_readable_image_exits_2_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    out = tmp_path / "pred.csv"
    assert main(["predict", str(tmp_path), "--out", str(out), "--no-tta"]) == 2
    err = capsys.readouterr().err
    assert "empty.png: " in err and "junk.png: " in err and "none of the 2 image(s)" in err
    assert not out.exists()


@pytest.mark.parametrize("name", ["nan.tif", "nan_slope.dcm", "huge_slope.dcm"])
def test_non_finite_pixels_are_a_decode_error_naming_the_file(mixed_folder, name, capsys):
    with pytest.raises(RadiographError, match="not finite") as caught:
        load_radiograph(mixed_folder / name)
    assert name in str(caught.value)
    assert main(["info", str(mixed_folder / name)]) == 2
    assert f"{name}: pixel values are not finite" in capsys.readouterr().err
