from datetime import date

import pytest

from cds_service.settings import Settings, SettingsError


def test_defaults_match_architecture_note():
    s = Settings.from_env({})
    assert s.auth == "jwt" and s.auth_enabled
    assert s.public_base_url == "http://127.0.0.1:8080"
    assert s.database_url == "sqlite:///instance/omalizumab-cds.sqlite3"
    assert s.max_body_bytes == 5 * 1024 * 1024
    assert s.fhir_budget_seconds == 2.5
    assert s.allow_open_fhir is False and s.cors_origins == ()
    assert s.region == "US" and s.clock is None


def test_demo_mode_opens_fhir_and_cors_and_knows_its_own_fhir_base():
    s = Settings.from_env({"CDS_DEMO": "1", "CDS_PUBLIC_BASE_URL": "http://127.0.0.1:9000/"})
    assert s.allow_open_fhir and s.cors_origins == ("*",)
    assert "http://127.0.0.1:9000/demo/fhir" in s.fhir_servers_without_issuer()
    assert "http://localhost:9000/demo/fhir" in s.fhir_servers_without_issuer()


def test_overrides_win_and_unknown_keys_go_to_extra():
    marker = object()
    s = Settings.from_env({"CDS_REGION": "US"}, {"CDS_REGION": "eu", "CDS_EVALUATOR": marker,
                                                 "fhir_max_pages": 3})
    assert s.region == "EU" and s.fhir_max_pages == 3 and s.extra["CDS_EVALUATOR"] is marker


def test_clock_and_lists_are_parsed():
    s = Settings.from_env({"CDS_CLOCK": "2025-06-01", "CDS_ALLOWED_FHIR_SERVERS": "https://A.org/fhir/, http://b/x",
                           "CDS_CORS_ORIGINS": "https://ehr.example.org"})
    assert s.clock == date(2025, 6, 1)
    assert s.allowed_fhir_servers == ("https://a.org/fhir", "http://b/x")
    assert s.cors_origins == ("https://ehr.example.org",)
    assert s.evaluation_date() == date(2025, 6, 1)


@pytest.mark.parametrize("env", [
    {"CDS_AUTH": "maybe"}, {"CDS_REGION": "JP"}, {"CDS_MAX_BODY_BYTES": "lots"},
    {"CDS_PUBLIC_BASE_URL": "cds.example.org"}, {"CDS_CLOCK": "yesterday"},
    {"CDS_FHIR_BUDGET_SECONDS": "-1"}, {"CDS_DEMO": "perhaps"}, {"CDS_ALLOWED_FHIR_SERVERS": "ftp://x"},
])
def test_bad_values_fail_at_start_up_with_the_variable_named(env):
    with pytest.raises(SettingsError) as err:
        Settings.from_env(env)
    assert list(env)[0] in str(err.value)


def test_jwt_mode_without_issuers_file_refuses_to_build_the_app(tmp_path):
    from cds_service import create_app

    with pytest.raises(SettingsError, match="CDS_TRUSTED_ISSUERS"):
        create_app({"CDS_AUTH": "jwt", "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_importing_the_package_does_nothing(tmp_path):
    import subprocess
    import sys

    code = ("import sys, cds_service; "
            "assert 'flask' not in sys.modules and 'sqlalchemy' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path,
                   env={"PYTHONPATH": str(__import__('pathlib').Path(__file__).parents[2])})
