"""Procedural VD hip radiograph phantoms with exact landmarks: the sample data, the tests'
data and the benchmarks' ground truth (test-data synthesis, kept out of `core`)."""

from hipvision.phantom.render import (
    ANNOTATIONS_NAME,
    DICOM_COMPRESSIONS,
    FORMATS,
    TRUTH_NAME,
    PhantomCase,
    PhantomConfig,
    derived_seed,
    generate_phantoms,
    render_phantom,
)

__all__ = ["ANNOTATIONS_NAME", "DICOM_COMPRESSIONS", "FORMATS", "TRUTH_NAME", "PhantomCase", "PhantomConfig",
           "derived_seed", "generate_phantoms", "render_phantom"]
