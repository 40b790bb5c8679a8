import json
from pathlib import Path

import pytest

from hipvision.core.grading import Grade, GradeThresholds, grade_hint
from hipvision.core.landmarks import Side
from hipvision.core.settings import (
    MAX_RECENT,
    AppSettings,
    SettingsError,
    config_dir,
    load_settings,
    load_settings_or_default,
    save_settings,
    settings_path,
)


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    d = tmp_path / "config"
    monkeypatch.setenv("HIPVISION_CONFIG_DIR", str(d))
    return d


def test_first_run_gives_defaults_and_writes_nothing(cfg):
    s = load_settings()
    assert s == AppSettings()
    assert s.thresholds.normal_min == 105.0 and s.thresholds.borderline_min == 100.0
    assert s.device == "auto" and s.sd_base_dir is None and s.recent_projects == ()
    assert s.side_mapping().patient_side_of_image_left() is Side.RIGHT
    assert not cfg.exists()


def test_env_overrides_config_dir(cfg):
    assert config_dir() == cfg
    assert settings_path() == cfg / "settings.json"


def test_config_dir_defaults_to_platformdirs(monkeypatch):
    import platformdirs

    monkeypatch.delenv("HIPVISION_CONFIG_DIR", raising=False)
    assert config_dir() == Path(platformdirs.user_config_dir("hipvision", appauthor=False))


def test_round_trip_through_file(cfg, tmp_path):
    sd = tmp_path / "sd15"
    s = AppSettings(thresholds=GradeThresholds(normal_min=107.5, borderline_min=101.0),
                    right_on_image_left=False, device="cpu", sd_base_dir=str(sd), synthetic_share=None,
                    synthetic_until=0.8)
    s = s.with_recent(tmp_path / "a").with_recent(tmp_path / "b")
    path = save_settings(s)
    assert path == cfg / "settings.json"
    on_disk = json.loads(path.read_text())
    assert on_disk["thresholds"]["normal_min"] == 107.5 and on_disk["device"] == "cpu"
    assert on_disk["recent_projects"] == [str(tmp_path / "b"), str(tmp_path / "a")]
    back = load_settings()
    assert back == s
    assert back.sd_base_dir == sd
    assert back.synthetic_share is None and back.synthetic_until == 0.8 and on_disk["synthetic_share"] is None
    # The loaded thresholds drive the grade hint.
    assert grade_hint(106.0, back.thresholds) is Grade.BORDERLINE
    assert back.side_mapping().patient_side_of_image_left() is Side.LEFT
    # No temporary files left behind by the atomic write.
    assert sorted(p.name for p in cfg.iterdir()) == ["settings.json"]


def test_recent_projects_move_to_front_dedupe_and_cap(tmp_path):
    s = AppSettings()
    for i in range(MAX_RECENT + 3):
        s = s.with_recent(tmp_path / f"p{i}")
    assert len(s.recent_projects) == MAX_RECENT
    assert s.recent_projects[0] == str(tmp_path / f"p{MAX_RECENT + 2}")
    s = s.with_recent(tmp_path / "p5")
    assert s.recent_projects[0] == str(tmp_path / "p5")
    assert s.recent_projects.count(str(tmp_path / "p5")) == 1
    assert str(tmp_path / "p5") not in s.without_recent(tmp_path / "p5").recent_projects


def test_existing_recent_skips_vanished_folders(tmp_path):
    (tmp_path / "here").mkdir()
    s = AppSettings().with_recent(tmp_path / "gone").with_recent(tmp_path / "here")
    assert s.existing_recent() == [tmp_path / "here"]


def test_partial_file_and_unknown_keys(cfg):
    cfg.mkdir()
    (cfg / "settings.json").write_text(json.dumps({"device": "mps", "from_the_future": 1,
                                                   "thresholds": {"normal_min": 110}}))
    s = load_settings()
    assert s.device == "mps" and s.thresholds.normal_min == 110 and s.thresholds.borderline_min == 100.0
    assert s.recent_projects == ()


@pytest.mark.parametrize("kwargs, word", [
    ({"device": "tpu"}, "device"),
    ({"right_on_image_left": "yes"}, "right_on_image_left"),
    ({"sd_base_dir": "  "}, "sd_base_dir"),
    ({"sd_base_dir": 3}, "sd_base_dir"),
    ({"recent_projects": "/one/folder"}, "recent_projects"),
    ({"recent_projects": ["/ok", ""]}, "recent_projects"),
    ({"thresholds": {"normal_min": 110}}, "thresholds"),
    ({"synthetic_share": 1.5}, "synthetic_share"),
    ({"synthetic_share": "half"}, "synthetic_share"),
    ({"synthetic_until": 0}, "synthetic_until"),
])
def test_invalid_values_name_the_field(kwargs, word):
    with pytest.raises(SettingsError, match=word):
        AppSettings(**kwargs)


@pytest.mark.parametrize("content, word", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"device": "gpu"}', "device"),
    ('{"thresholds": {"normal_min": 90, "borderline_min": 100}}', "borderline_min"),
])
def test_bad_file_names_file_and_problem(cfg, content, word):
    cfg.mkdir()
    f = cfg / "settings.json"
    f.write_text(content)
    with pytest.raises(SettingsError) as e:
        load_settings()
    assert str(f) in str(e.value) and word in str(e.value)


def test_lenient_load_keeps_broken_file_and_uses_defaults(cfg):
    cfg.mkdir()
    f = cfg / "settings.json"
    f.write_text("{broken")
    s, msg = load_settings_or_default()
    assert s == AppSettings()
    assert "not valid JSON" in msg and "settings.json.bad" in msg
    assert (cfg / "settings.json.bad").read_text() == "{broken"
    assert not f.exists()
    # A good file gives no message.
    save_settings(AppSettings(device="cuda"))
    s, msg = load_settings_or_default()
    assert s.device == "cuda" and msg is None


def test_failed_save_leaves_old_file(cfg, monkeypatch):
    save_settings(AppSettings(device="cpu"))
    import hipvision.core.atomic as atomic

    def boom(*a, **k):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(atomic.os, "replace", boom)
        with pytest.raises(OSError, match="disk full"):
            save_settings(AppSettings(device="cuda"))
    assert load_settings().device == "cpu"
    assert sorted(p.name for p in cfg.iterdir()) == ["settings.json"]


def test_pacs_users_per_server_round_trip(cfg):
    s = AppSettings(pacs_servers=("http://pacs:8042/dicom-web", "ORTHANC@pacs:4242"),
                    pacs_users=(("http://pacs:8042/dicom-web", "vet"), ("ORTHANC@pacs:4242", "")))
    path = save_settings(s)
    assert json.loads(path.read_text())["pacs_users"] == {"http://pacs:8042/dicom-web": "vet", "ORTHANC@pacs:4242": ""}
    back = load_settings()
    assert back == s
    assert back.pacs_username_for("http://pacs:8042/dicom-web") == "vet"
    assert back.pacs_username_for("ORTHANC@pacs:4242") == ""  # no user: a token, or none


def test_a_file_with_one_pacs_username_means_that_user_for_every_server(cfg):
    # As HipVision wrote it before each server had its own user.
    (cfg).mkdir()
    (cfg / "settings.json").write_text(json.dumps({
        "version": 1, "pacs_servers": ["http://pacs:8042/dicom-web", "ORTHANC@pacs:4242"], "pacs_username": "hip"}))
    s = load_settings()
    assert [s.pacs_username_for(t) for t in s.pacs_servers] == ["hip", "hip"]


@pytest.mark.parametrize("bad", [["vet"], {"http://pacs/dicom-web": "a\nb"}, {"": "vet"}, "vet"])
def test_bad_pacs_users_name_the_field(cfg, bad):
    (cfg).mkdir()
    (cfg / "settings.json").write_text(json.dumps({"pacs_users": bad}))
    with pytest.raises(SettingsError, match=r"settings.json: AppSettings.pacs_users must map server addresses"):
        load_settings()
