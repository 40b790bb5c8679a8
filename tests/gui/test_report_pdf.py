"""The PDF report: one page per image, and what a page shows (drawn on an image to look at)."""

import re

import numpy as np

from hipvision.core.store import Project
from hipvision.gui.report_pdf import report_page_image, write_report


def pdf_pages(path) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", path.read_bytes()))


def test_one_page_per_image_written_atomically(qapp, project_dir, tmp_path):
    with Project.open(project_dir) as p:
        ids = [r.id for r in p.images()][:3]
        out = write_report(p, ids, tmp_path / "out" / "r.pdf")
    assert out.read_bytes().startswith(b"%PDF") and pdf_pages(out) == 3
    assert [f.name for f in out.parent.iterdir()] == ["r.pdf"]  # no temporary file left


def test_page_shows_the_image_and_text(qapp, project_dir):
    with Project.open(project_dir) as p:
        rec = p.images()[0]
        page = report_page_image(p, rec.id, dpi=60)
    img = page.convertToFormat(page.Format.Format_Grayscale8)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[:, : img.width()]
    top = arr[: arr.shape[0] // 6]
    assert (top < 100).mean() > 0.005  # title and facts: dark text on white
    middle = arr[arr.shape[0] // 4: arr.shape[0] // 2]
    assert middle.std() > 20  # the radiograph


def test_unreadable_and_unannotated_images_still_get_a_page(qapp, project_dir, tmp_path):
    with Project.open(project_dir) as p:
        rec = p.images()[0]
        p.save_annotation(rec.id, None, status="new")
        rec.abs_path.write_bytes(b"broken")
        out = write_report(p, [rec.id], tmp_path / "r.pdf")
    assert pdf_pages(out) == 1
