import json

import pytest

from botsite.tests.subprocess_env import clean_env, run_manage, run_python

PRINT_MODE = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "debug": s.DEBUG,
    "engine": s.DATABASES["default"]["ENGINE"],
    "db_name": str(s.DATABASES["default"]["NAME"]),
    "cache": s.CACHES["default"]["BACKEND"],
    "layer": s.CHANNEL_LAYERS["default"]["BACKEND"],
    "broker": s.CELERY_BROKER_URL,
    "secret_key_length": len(s.SECRET_KEY),
}))
"""
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "kq3-Vd8yJp0rTn5wZc7xB2mL9fH4sG6aE1uR0oI8yT3wQ5eNzz",
    "ALLOWED_HOSTS": "bots.example.com",
    "DATABASE_URL": "postgres://botsite@db.example.com:5432/botsite",
    "REDIS_URL": "redis://cache.example.com:6379/0",
}


def mode(tmp_path, **env):
    result = run_python(
        PRINT_MODE,
        clean_env(DJANGO_SETTINGS_MODULE="botsite.settings", BOTSITE_DATA_DIR=str(tmp_path), **env),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_no_environment_gives_the_embedded_default(tmp_path):
    assert mode(tmp_path) == {
        "debug": True,
        "engine": "django.db.backends.sqlite3",
        "db_name": str(tmp_path / "botsite.sqlite3"),
        "cache": "django.core.cache.backends.locmem.LocMemCache",
        "layer": "botsite.channel_layers.LoopBoundInMemoryChannelLayer",
        "broker": "memory://localhost/",
        "secret_key_length": 67,
    }
    key_file = tmp_path / "secret_key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_the_embedded_secret_key_is_random_and_kept_across_restarts(tmp_path):
    first = (mode(tmp_path), (tmp_path / "secret_key").read_text())
    second = (mode(tmp_path), (tmp_path / "secret_key").read_text())
    elsewhere = mode(tmp_path / "other") and (tmp_path / "other" / "secret_key").read_text()

    assert first[1] == second[1]
    assert elsewhere != first[1]


def test_database_and_redis_urls_switch_to_the_production_services(tmp_path):
    assert mode(tmp_path, **PRODUCTION) == {
        "debug": False,
        "engine": "django.db.backends.postgresql",
        "db_name": "botsite",
        "cache": "django.core.cache.backends.redis.RedisCache",
        "layer": "botsite.channel_layers.OutageAwarePubSubChannelLayer",
        "broker": "redis://cache.example.com:6379/0",
        "secret_key_length": 50,
    }


def test_debug_is_off_by_default_once_real_services_are_configured(tmp_path):
    env = {key: value for key, value in PRODUCTION.items() if key != "DEBUG"}

    assert mode(tmp_path, **env)["debug"] is False


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "set SECRET_KEY"),
        ("ALLOWED_HOSTS", "set ALLOWED_HOSTS"),
    ],
)
def test_production_refuses_to_start_without_a_secret_key_or_allowed_hosts(
    tmp_path, missing, message
):
    env = clean_env(DJANGO_SETTINGS_MODULE="botsite.settings", **PRODUCTION)
    del env[missing]

    result = run_python("import django; django.setup()", env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_production_refuses_djangos_insecure_placeholder_key():
    env = clean_env(DJANGO_SETTINGS_MODULE="botsite.settings", **PRODUCTION)
    env["SECRET_KEY"] = "django-insecure-" + "x" * 40

    result = run_python("import django; django.setup()", env)

    assert "set SECRET_KEY" in result.stderr


def test_the_secret_key_can_come_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("f7Gh2Jk9Lm4Np6Qr8St0Uv3Wx5Yz1Ab7Cd9Ef2Gh4Ij6Kl8Mn0Op\n")
    env = {key: value for key, value in PRODUCTION.items() if key != "SECRET_KEY"}

    assert mode(tmp_path, SECRET_KEY_FILE=str(secret), **env)["secret_key_length"] == 52


def test_the_deploy_checklist_is_clean_in_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=clean_env(**PRODUCTION))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "key",
    ["change-me" * 7, "0123456789" * 5 + "012", "aB3" * 20, "abcdefgh" + "a" * 50],
    ids=["change-me x7", "digits x5 and a part", "three characters x20", "few kinds"],
)
def test_production_refuses_a_secret_key_of_a_short_pattern_repeated(key):
    env = clean_env(DJANGO_SETTINGS_MODULE="botsite.settings", **{**PRODUCTION, "SECRET_KEY": key})

    result = run_python("import django; django.setup()", env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "not a short pattern repeated" in result.stderr


def test_production_accepts_a_random_hex_secret_key(tmp_path):
    key = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

    assert mode(tmp_path, **{**PRODUCTION, "SECRET_KEY": key})["secret_key_length"] == 64


def test_production_refuses_allowed_hosts_of_any_host():
    env = clean_env(
        DJANGO_SETTINGS_MODULE="botsite.settings",
        **{**PRODUCTION, "ALLOWED_HOSTS": "bots.example.com,*"},
    )

    result = run_python("import django; django.setup()", env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "'*' would let any Host header through" in result.stderr
