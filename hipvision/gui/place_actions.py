"""The window's side of the place-with-clicks assist: start the two-click tool, refine around
the heads where they are now, and apply the engine's answer as one undoable user edit.

The engine (see engine_bridge) listens to `place_tool.placed`; the window never runs a model.
"""

from __future__ import annotations

from hipvision.annotation.state import StoredEdit


class PlaceMixin:
    """Mixed into MainWindow: needs canvas, place_tool, actions, workspace, _state, show_status."""

    def toggle_place_mode(self, on: bool) -> None:
        if on and self._state is not None:
            self.place_tool.start()
        else:
            self.place_tool.cancel()
        self.actions["place"].setChecked(self.place_tool.active)

    def refine_around_heads(self) -> None:
        """After a head was dragged far from the prediction: refit radius and rims from the
        heads' current places (the same job as two clicks there)."""
        lm = self.canvas.landmarks
        if self._state is None or lm is None:
            self.show_status("Nothing to refine: place the hips first (P)")
            return
        left, right = self.canvas.mapping.to_image_order(lm)
        self.show_status("Refining around the heads…")
        self.place_tool.placed.emit(((left.head_x, left.head_y), (right.head_x, right.head_y)))

    def apply_placement(self, result) -> bool:
        """The engine's refined landmarks for `result.image_id`: one undo command, saved as the
        person's edit (they said where the hips are; the model only refined)."""
        if self._state is None or result.image_id != self._state.image.id:
            self.show_status("The refined hips arrived for another image; nothing was changed")
            return False
        rec = self._state.image
        ok = self.workspace.push(rec.id, StoredEdit(result.landmarks, "edited", rec.mapping),
                                 "Place hips from clicks")
        low = sorted(k for k, v in result.confidence.items() if v < 0.5)
        self.show_status("Hips placed from your clicks and refined by the model"
                         + (f"; check {', '.join(low)}" if low else "") + " (Ctrl+Z undoes)")
        return ok
