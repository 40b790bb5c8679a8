"""The PDF report: one page per image, and what a page shows (drawn on an image to look at)."""

import re

import numpy as np

from hipvision.core.store import Project
from hipvision.gui.report_pdf import report_page_image, write_report
from tests.gui.conftest import save_shot


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


def _red_pixels(page) -> int:
    img = page.convertToFormat(page.Format.Format_RGB32)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)
    b, g, r = (arr[..., i].astype(int) for i in range(3))
    return int(((r - g > 25) & (r - b > 25)).sum())


def test_an_unreviewed_prediction_is_watermarked_and_a_doubtful_one_ungraded(qapp, project_dir):
    from hipvision.annotation.state import load_state
    from hipvision.gui.report_pdf import review_notice
    from tests.gui.test_trust import ZERO_CONF, failed_prediction

    with Project.open(project_dir) as p:
        rec = p.images()[0]
        verified = report_page_image(p, rec.id, dpi=60)
        assert review_notice(load_state(p, rec.id)) is None
        lm = p.current_landmarks(rec.id)
        p.save_annotation(rec.id, None, status="new")
        p.save_prediction(rec.id, failed_prediction(lm), model_id=4, confidence=ZERO_CONF)
        notice = review_notice(load_state(p, rec.id))
        assert notice.startswith("Doubtful prediction by model:4") and "No grade" in notice
        flagged = report_page_image(p, rec.id, dpi=60)
        p.save_annotation(rec.id, None, status="new")
        p.save_prediction(rec.id, lm, model_id=4, confidence=dict.fromkeys(ZERO_CONF, 0.9))
        assert review_notice(load_state(p, rec.id)) == "Prediction by model:4, not reviewed by a person."
        plausible = report_page_image(p, rec.id, dpi=60)
    save_shot(flagged, "report_flagged.png")
    # The red watermark and notice cover far more of the page than the (verified) page's red marks.
    assert _red_pixels(flagged) > _red_pixels(verified) + 2000
    assert _red_pixels(plausible) > _red_pixels(verified) + 2000


def test_small_hips_are_drawn_at_their_printed_size(qapp, project_dir, monkeypatch):
    """A pelvis a tenth of the image is a ~130-px region printed ~700 px wide at 100 dpi: its overlay
    must be drawn at that size, not drawn small and blown up (symbols over the heads)."""
    from hipvision.gui import report_pdf
    from tests.gui.test_render import small_hips_case

    case, rad = small_hips_case()
    calls = []

    def spy(radiograph, overlay, **kw):
        img = render(radiograph, overlay, **kw)
        calls.append((kw, img))
        return img

    render = report_pdf.render_annotated
    monkeypatch.setattr(report_pdf, "render_annotated", spy)
    with Project.open(project_dir) as p:
        rec = p.images()[0]
        p.save_annotation(rec.id, case.landmarks, mapping=case.mapping, status="verified")
        page = report_page_image(p, rec.id, dpi=100, loader=lambda _: rad)
    page.save("/tmp/labels_test_pdf.png")
    (kw, hips), = [(kw, img) for kw, img in calls if kw.get("region")]
    assert max(hips.width(), hips.height()) == kw["max_side"] > 4 * (kw["region"][2] - kw["region"][0])
