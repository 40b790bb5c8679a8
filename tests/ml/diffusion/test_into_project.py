"""Synthetic images are training data forever: no path puts one into validation or test."""

import sqlite3

import numpy as np
import pytest

from hipvision.core.store import Project, StoreError
from hipvision.ml.diffusion.into_project import save_generated


def _lm(project):
    return project.labelled(("train",), source="real")[0][1]


def test_synthetic_never_reaches_val_or_test(phantom_project):
    with Project.open(phantom_project, create=False) as p:
        img = np.full((64, 64), 120, np.uint8)
        rec = save_generated(p, img, method="conditional", generator="g", seed=1, name="x", landmarks=_lm(p),
                             condition=_lm(p), gate_score=0.5)
        assert rec.split == "train" and rec.source == "synthetic"
        # the store ignores a requested split for synthetic images
        other = p.synthetic_dir / "conditional" / "y.png"
        other.write_bytes((p.synthetic_dir / "conditional" / "x.png").read_bytes())
        forced = p.add_image(other, source="synthetic", split="val")
        assert forced.split == "train"
        # and the database itself refuses to move one, whatever the code path
        for split in ("val", "test"):
            with pytest.raises((sqlite3.IntegrityError, StoreError)):
                with p.transaction() as c:
                    c.execute("UPDATE images SET split=? WHERE id=?", (split, rec.id))
            assert p.image(rec.id).split == "train"
        assert not p.images(split=("val", "test"), source="synthetic")


def test_file_and_row_come_together(phantom_project):
    with Project.open(phantom_project, create=False) as p:
        img = np.zeros((32, 48), np.uint8)
        img[10:20, 5:40] = 200
        rec = save_generated(p, img, method="ddpm", generator="g", seed=3, name="a", landmarks=None)
        assert (rec.width, rec.height, rec.bit_depth) == (48, 32, 8) and rec.status == "new"
        import cv2

        assert np.array_equal(cv2.imread(str(rec.abs_path), cv2.IMREAD_UNCHANGED), img)
        assert p.synthetic_info(rec.id).gate_score is None
        with pytest.raises(FileExistsError):
            save_generated(p, img, method="ddpm", generator="g", seed=3, name="a", landmarks=None)
        with pytest.raises(ValueError, match="2-D uint8"):
            save_generated(p, img.astype(np.float32), method="ddpm", generator="g", seed=3, name="b", landmarks=None)
        assert not (p.synthetic_dir / "ddpm" / "b.png").exists()
        assert len(p.images(source="synthetic")) == 1
