"""The open project as the window edits it: store writes, undo history per image.

Every change the user makes is a `StoredEdit` transition pushed as one `EditCommand` on the
image's own QUndoStack: redo writes the new state to the store (one transaction), undo
writes the old one back. The commands edit the model — the store — never the canvas; the
canvas and lists re-read the store when `annotationChanged` fires.
"""

from __future__ import annotations

import sqlite3

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoGroup, QUndoStack

from hipvision.annotation.state import AnnotationState, StoredEdit, load_state
from hipvision.core.store import Project, StoreError


class EditCommand(QUndoCommand):
    def __init__(self, workspace: Workspace, image_id: int, before: StoredEdit, after: StoredEdit, text: str):
        super().__init__(text)
        self.workspace, self.image_id, self.before, self.after = workspace, image_id, before, after

    def redo(self) -> None:
        if not self.workspace.write(self.image_id, self.after):
            self.setObsolete(True)  # the write failed: the command leaves the stack

    def undo(self) -> None:
        if not self.workspace.write(self.image_id, self.before):
            self.setObsolete(True)


class Workspace(QObject):
    annotationChanged = Signal(int)  # the stored annotation or status of this image changed
    writeFailed = Signal(int, str)  # image id, message

    def __init__(self, project: Project, undo_group: QUndoGroup | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.project = project
        # The window's Undo/Redo actions are bound to one group for its lifetime; each image
        # gets its own stack in it, made active when the image is shown.
        self.undo_group = undo_group if undo_group is not None else QUndoGroup(self)
        self._stacks: dict[int, QUndoStack] = {}

    def stack(self, image_id: int) -> QUndoStack:
        st = self._stacks.get(image_id)
        if st is None:
            st = QUndoStack(self.undo_group)  # a group parent adds the stack to the group
            self._stacks[image_id] = st
        return st

    def activate(self, image_id: int | None) -> None:
        self.undo_group.setActiveStack(None if image_id is None else self.stack(image_id))

    def state(self, image_id: int) -> AnnotationState:
        return load_state(self.project, image_id)

    def push(self, image_id: int, after: StoredEdit, text: str) -> bool:
        """Apply `after` as one undoable edit; False if nothing changed or the write failed."""
        before = self.state(image_id).stored
        if after == before:
            return False
        cmd = EditCommand(self, image_id, before, after, text)
        self.stack(image_id).push(cmd)
        return not cmd.isObsolete()

    def write(self, image_id: int, edit: StoredEdit) -> bool:
        """One edit to the store, landmarks and (when it changed) side mapping in one
        transaction: landmarks are by patient side and only make sense with their mapping."""
        try:
            current = self.project.image(image_id)
            mapping = edit.mapping if edit.mapping != current.mapping else None
            # An edit by the user is authored "user"; going back (undo, reset) to an imported or
            # predicted revision restores its author and confidence, noted as a restore.
            restore = edit.author != "user"
            self.project.save_annotation(image_id, edit.landmarks, author=edit.author, status=edit.status,
                                         confidence=edit.confidence, mapping=mapping, restore=restore,
                                         note="restored by user (undo/reset)" if restore else None)
        except (StoreError, sqlite3.Error, OSError) as exc:
            self.writeFailed.emit(image_id, f"Could not save the edit: {exc}")
            self.annotationChanged.emit(image_id)  # re-read: the screen must show what is stored
            return False
        self.annotationChanged.emit(image_id)
        return True
