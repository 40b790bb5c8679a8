"""The Qt-free editing model: what an edit of a hip's landmarks means, the state of one
image's annotation as the workstation shows it, and where the overlay draws it.

The GUI renders and forwards mouse events; the semantics live here, so they are tested
without a display and the layering test keeps Qt out."""
