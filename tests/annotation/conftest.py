from tests.project_fixtures import isolated_user_dirs, phantom_folder, project_dir  # noqa: F401
