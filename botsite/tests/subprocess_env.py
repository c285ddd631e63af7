"""Run Django code in a fresh interpreter with a chosen environment (settings are read once)."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
#: Variables that pick the mode; cleared so each test states the environment it means.
Completed = subprocess.CompletedProcess

MODE_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "ALLOWED_HOSTS",
    "CELERY_BROKER_URL",
)


def clean_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in MODE_VARIABLES}
    env.update(overrides)
    return env


def outbound_allowed(*urls: str) -> str:
    """`HTTP_ALLOWED_HOSTS` for processes that must reach these local servers and nothing
    else on the machine: each one's host:port, never the whole host."""
    return ",".join(urlsplit(url).netloc for url in urls)


def run(argv: list[str], env: dict[str, str], timeout: float) -> Completed:
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def run_python(code: str, env: dict[str, str], timeout: float = 60) -> Completed:
    return run([sys.executable, "-c", code], env, timeout)


def run_module(*args: str, env: dict[str, str], timeout: float = 60) -> Completed:
    return run([sys.executable, "-m", *args], env, timeout)


def run_manage(*args: str, env: dict[str, str], timeout: float = 120) -> Completed:
    return run([sys.executable, "manage.py", *args], env, timeout)
