"""The desktop workstation (PySide6 + pyqtgraph).

Layout: Qt-free logic (landmark_edit, overlay_geometry, annotation_state, image_pyramid) is
kept apart from the widgets (one per module) so it can be tested and reused by the
offscreen renderer and the PDF report. Nothing here imports hipvision.ml: predictions reach
the window through the engine (engine*.py) and the store.
"""
