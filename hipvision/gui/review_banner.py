"""Review: the banner over a doubtful prediction (what is wrong, the one action that fixes it),
and the window's review slots (the banner's fix, Model ▸ Predict on a reviewed image).

A doubtful prediction (low confidence, impossible geometry; annotation.plausibility) must
be impossible to overlook: the banner sits above the canvas in a warning colour with one
button. The button asks for the place-with-clicks tool (`fixRequested`); the window decides
what answers it.
"""

from __future__ import annotations

from PySide6.QtCore import SIGNAL, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMessageBox, QPushButton

from hipvision.annotation.landmark_edit import HandleKey

FIX_TEXT = "Place hips with clicks"


class ReviewBanner(QFrame):
    fixRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("review_banner")
        self.setStyleSheet("#review_banner { background: #5d1f0c; border-bottom: 2px solid #d84315; }"
                           "QLabel { color: #ffe0d6; }")
        box = QHBoxLayout(self)
        box.setContentsMargins(10, 5, 10, 5)
        self.label = QLabel()
        self.label.setWordWrap(True)
        box.addWidget(self.label, 1)
        self.button = QPushButton(FIX_TEXT)
        self.button.setToolTip("Click each femoral head, then drag the landmarks to refine. "
                               "Or drag the landmarks directly; V accepts them as they are.")
        self.button.clicked.connect(self.fixRequested)
        box.addWidget(self.button)
        self.hide()

    def show_concerns(self, summary: str | None) -> None:
        """Show the banner for these concerns; None or '' hides it."""
        if not summary:
            self.hide()
            return
        self.label.setText(f"<b>Doubtful prediction — not a measurement.</b> {summary}. "
                           "Place the hips, or drag the landmarks; no grade is shown until you do.")
        self.show()


class ReviewMixin:
    """MainWindow's review slots (needs: _state, canvas, show_status, _push, predict_requested,
    place_with_clicks_requested)."""

    def request_prediction(self) -> None:
        """Model ▸ Predict. A prediction never overwrites a person's landmarks, so on an edited
        or verified image ask first: replacing them is one undoable delete, then the prediction."""
        if self._state is None:
            return
        rec = self._state.image
        if rec.status in ("edited", "verified"):
            answer = QMessageBox.question(
                self, "Predict landmarks",
                f"{rec.name} has landmarks {rec.status} by a person. Replace them with a new prediction?\n"
                "(Ctrl+Z brings them back.)")
            if answer != QMessageBox.StandardButton.Yes:
                self.show_status(f"Kept the {rec.status} landmarks of {rec.name}; no prediction made")
                return
            self._push(None, "new", "Delete landmarks (to predict)")
        self.show_status(f"Predicting {rec.name}…")
        self.predict_requested.emit(rec.id)

    def request_place_with_clicks(self) -> None:
        """The review banner's fix. The place-with-clicks tool answers the signal; without it,
        select the least confident landmark so the user can drag it (never a silent button)."""
        if self._state is None:
            return
        if self.receivers(SIGNAL("place_with_clicks_requested(int)")) > 0:
            self.place_with_clicks_requested.emit(self._state.image.id)
            return
        low = self._state.assessment.low_confidence
        side, part = (low[0].split(".") if low else ("right", "head"))
        part = "head" if part == "radius" else part
        self.canvas.select(HandleKey(side, part))
        self.canvas.setFocus()
        self.show_status(f"Drag the selected landmark ({side} {part}) into place, or nudge it with the arrow keys; "
                         "then the others. V accepts the landmarks as shown.")
