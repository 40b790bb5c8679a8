"""The user's application settings: one JSON file in the per-user config folder.

Qt-free on purpose: the preferences dialog edits an `AppSettings`, the CLI and the engine read
the same file, and tests drive it without a display. QSettings would tie the format to Qt and
hide it in the registry on Windows; a JSON file the user can read (and delete) is easier to
support.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hipvision.core.atomic import write_text_atomic
from hipvision.core.grading import DEFAULT_THRESHOLDS, GradeThresholds
from hipvision.core.landmarks import SideMapping
from hipvision.core.synthetic_mix import DEFAULT_SHARE, DEFAULT_UNTIL, check_mix

SETTINGS_FILENAME = "settings.json"
SCHEMA_VERSION = 1
DEVICES = ("auto", "cpu", "cuda", "mps")  # where torch work may run (ml.device.pick_device)
MAX_RECENT = 10


class SettingsError(ValueError):
    """A settings file or value that cannot be used; the message names the file or field."""


@dataclass(frozen=True)
class AppSettings:
    """Everything the preferences dialog edits. Unknown JSON keys are ignored (a newer
    HipVision may have written them); missing keys take these defaults."""

    thresholds: GradeThresholds = DEFAULT_THRESHOLDS
    # Default for images that do not say otherwise: VD convention, patient's right on image left.
    right_on_image_left: bool = True
    device: str = "auto"
    # A local diffusers folder of a Stable Diffusion checkpoint for DreamBooth; None = not set.
    sd_base_dir: Path | None = None
    # Most recent first, absolute paths as strings (stable in JSON, comparable without I/O).
    recent_projects: tuple[str, ...] = field(default_factory=tuple)
    # How a retrain mixes in the project's synthetic images (core.synthetic_mix).
    synthetic_share: float | None = DEFAULT_SHARE
    synthetic_until: float = DEFAULT_UNTIL
    # PACS servers as the CLI's --server takes them (a DICOMweb URL or AET@host:port), our AE title
    # and each server's user name. The secret is never here: it lives in the OS keyring, one per
    # (user, server) (pacs.server.store_secret).
    pacs_servers: tuple[str, ...] = field(default_factory=tuple)
    pacs_calling_ae: str = "HIPVISION"
    # The user of a server without an entry in pacs_users: what files written before per-server
    # users meant for every server. Preferences now writes pacs_users for every line.
    pacs_username: str = ""
    # The port a C-MOVE's images come to (our AE title there must be registered on the PACS): 11112,
    # DICOM's registered port, which unlike 104 needs no administrator rights.
    pacs_move_port: int = 11112
    # (server line, user name) pairs; in the file an object {server: user}. "" = no user (a token).
    pacs_users: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not isinstance(self.thresholds, GradeThresholds):
            raise SettingsError(
                f"AppSettings.thresholds must be GradeThresholds, got {type(self.thresholds).__name__}"
            )
        if not isinstance(self.right_on_image_left, bool):
            raise SettingsError(
                f"AppSettings.right_on_image_left must be true or false, got {self.right_on_image_left!r}"
            )
        if self.device not in DEVICES:
            raise SettingsError(f"AppSettings.device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        sd = self.sd_base_dir
        if sd is not None:
            if isinstance(sd, str):
                if not sd.strip():
                    raise SettingsError("AppSettings.sd_base_dir must be a folder path or null, got an empty string")
                sd = Path(sd)
            if not isinstance(sd, Path):
                raise SettingsError(f"AppSettings.sd_base_dir must be a folder path or null, got {sd!r}")
            object.__setattr__(self, "sd_base_dir", sd)
        recent = self.recent_projects
        if isinstance(recent, (str, bytes)) or not isinstance(recent, (list, tuple)):
            raise SettingsError(f"AppSettings.recent_projects must be a list of folder paths, got {recent!r}")
        for p in recent:
            if not isinstance(p, (str, Path)) or not str(p).strip():
                raise SettingsError(f"AppSettings.recent_projects holds a bad entry {p!r}")
        object.__setattr__(self, "recent_projects", tuple(str(p) for p in recent)[:MAX_RECENT])
        try:
            check_mix(self.synthetic_share, self.synthetic_until, "AppSettings.")
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        servers = self.pacs_servers
        if isinstance(servers, (str, bytes)) or not isinstance(servers, (list, tuple)) or not all(
                isinstance(t, str) and t.strip() and not any(c in t for c in "\r\n") for t in servers):
            raise SettingsError(f"AppSettings.pacs_servers must be a list of server addresses, got {servers!r}")
        object.__setattr__(self, "pacs_servers", tuple(t.strip() for t in servers))
        for key in ("pacs_calling_ae", "pacs_username"):
            value = getattr(self, key)
            if not _one_line(value):
                raise SettingsError(f"AppSettings.{key} must be one line of text, got {value!r}")
        port = self.pacs_move_port
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise SettingsError(f"AppSettings.pacs_move_port must be a port number 1..65535, got {port!r}")
        users = self.pacs_users
        if isinstance(users, dict):  # as the file has it
            users = tuple(users.items())
        if isinstance(users, (str, bytes)) or not isinstance(users, (list, tuple)) or not all(
                isinstance(pair, (list, tuple)) and len(pair) == 2 and _one_line(pair[0]) and pair[0].strip()
                and _one_line(pair[1]) for pair in users):
            raise SettingsError(f"AppSettings.pacs_users must map server addresses to user names, got {users!r}")
        object.__setattr__(self, "pacs_users", tuple((a.strip(), u.strip()) for a, u in users))

    def pacs_username_for(self, server: str) -> str:
        """The user name for the server line `server`: its own, else the one of older files."""
        return dict(self.pacs_users).get(server.strip(), self.pacs_username)

    def side_mapping(self) -> SideMapping:
        return SideMapping(right_on_image_left=self.right_on_image_left)

    def with_recent(self, folder: str | os.PathLike) -> AppSettings:
        """`folder` moved (or added) to the front of the recent list, which keeps MAX_RECENT."""
        p = str(Path(folder).expanduser().absolute())
        rest = [r for r in self.recent_projects if r != p]
        return replace(self, recent_projects=(p, *rest)[:MAX_RECENT])

    def without_recent(self, folder: str | os.PathLike) -> AppSettings:
        p = str(Path(folder).expanduser().absolute())
        return replace(self, recent_projects=tuple(r for r in self.recent_projects if r != p))

    def existing_recent(self) -> list[Path]:
        """Recent project folders that still exist (a USB stick may be gone): for the start screen."""
        return [Path(r) for r in self.recent_projects if Path(r).is_dir()]

    def to_dict(self) -> dict:
        t = self.thresholds
        return {
            "version": SCHEMA_VERSION,
            "thresholds": {"normal_min": t.normal_min, "borderline_min": t.borderline_min},
            "right_on_image_left": self.right_on_image_left,
            "device": self.device,
            "sd_base_dir": None if self.sd_base_dir is None else str(self.sd_base_dir),
            "recent_projects": list(self.recent_projects),
            "synthetic_share": self.synthetic_share,
            "synthetic_until": self.synthetic_until,
            "pacs_servers": list(self.pacs_servers),
            "pacs_calling_ae": self.pacs_calling_ae,
            "pacs_username": self.pacs_username,
            "pacs_move_port": self.pacs_move_port,
            "pacs_users": dict(self.pacs_users),
        }

    @classmethod
    def from_dict(cls, d: dict) -> AppSettings:
        if not isinstance(d, dict):
            raise SettingsError(f"settings must be a JSON object, got {type(d).__name__}")
        kwargs: dict[str, Any] = {}
        if "thresholds" in d:
            t = d["thresholds"]
            if not isinstance(t, dict):
                raise SettingsError(f"AppSettings.thresholds must be an object, got {t!r}")
            # bva_step/bva_max of older files are ignored: the BVA rule is fixed (core.grading).
            known = {k: t[k] for k in ("normal_min", "borderline_min") if k in t}
            try:
                kwargs["thresholds"] = GradeThresholds(**known)
            except ValueError as exc:
                raise SettingsError(str(exc)) from None
        for key in ("right_on_image_left", "device", "sd_base_dir", "recent_projects", "synthetic_share",
                    "synthetic_until", "pacs_servers", "pacs_calling_ae", "pacs_username",
                    "pacs_move_port", "pacs_users"):
            if key in d:
                kwargs[key] = d[key]
        return cls(**kwargs)


def _one_line(value) -> bool:
    return isinstance(value, str) and not any(c in value for c in "\r\n")


def config_dir() -> Path:
    """The per-user config folder; HIPVISION_CONFIG_DIR overrides it (tests, portable installs)."""
    override = os.environ.get("HIPVISION_CONFIG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir("hipvision", appauthor=False))


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILENAME


def load_settings(path: str | os.PathLike | None = None) -> AppSettings:
    """The saved settings, or the defaults when there is no file yet (first run).

    Raises SettingsError naming the file when it exists but is unreadable or invalid."""
    path = Path(path) if path is not None else settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return AppSettings()
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read settings ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    try:
        return AppSettings.from_dict(data)
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}") from None


def load_settings_or_default(path: str | os.PathLike | None = None) -> tuple[AppSettings, str | None]:
    """For app start: never fails. A broken file is moved aside to `<name>.bad` (so the next
    save does not destroy what the user may want to repair) and the defaults are used; the
    second value is the message to show, or None."""
    path = Path(path) if path is not None else settings_path()
    try:
        return load_settings(path), None
    except SettingsError as exc:
        bad = path.with_name(path.name + ".bad")
        try:
            os.replace(path, bad)
            where = f"; the file was kept as {bad}"
        except OSError:
            where = ""
        return AppSettings(), f"{exc}. Using default settings{where}."


def save_settings(settings: AppSettings, path: str | os.PathLike | None = None) -> Path:
    """Write atomically (temporary file + os.replace): a crash never leaves half a file."""
    if not isinstance(settings, AppSettings):
        raise SettingsError(f"save_settings needs AppSettings, got {type(settings).__name__}")
    path = Path(path) if path is not None else settings_path()
    return write_text_atomic(path, json.dumps(settings.to_dict(), indent=2) + "\n")
