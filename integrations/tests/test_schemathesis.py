"""Property-based run of the OpenAPI schema against the live embedded server: schemathesis
generates requests for every operation; no answer may be a 5xx or break the schema."""

import subprocess
import sys
from pathlib import Path

import pytest

from botsite.tests.sites import embedded_site, once_in_ci
from botsite.tests.subprocess_env import clean_env, run_manage

pytestmark = [pytest.mark.e2e, once_in_ci]

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]


def test_generated_requests_get_no_server_error_and_answers_that_fit_the_schema(tmp_path):
    # Throttling is tested elsewhere; here it would turn most answers into 429s.
    with embedded_site(
        tmp_path, API_THROTTLE_BURST="1000000", API_THROTTLE_PER_MINUTE="1000000"
    ) as site:
        made = run_manage(
            "api_token_create",
            "--user",
            "admin",
            "--bot",
            "demo",
            "--scope",
            "write",
            env=site.env,
        )
        assert made.returncode == 0, made.stderr
        # In the test's own folder: schemathesis keeps a cache where it runs.
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                f"{site.base}/api/schema/",
                "--header",
                f"Authorization: Bearer {made.stdout.strip()}",
                "--checks",
                ",".join(CHECKS),
                "--phases",
                # The coverage phase's ~8,000 boundary cases take minutes; run it by hand.
                "examples,fuzzing",
                "--max-examples",
                "10",
                "--workers",
                "1",
                "--seed",
                "20261122",
                "--no-shrink",
                "--generation-database",
                "none",
                "--no-color",
                # The run's own token and bot: deleting them would leave only 401s and 404s.
                "--exclude-operation-id",
                "v1_tokens_destroy",
                "--exclude-operation-id",
                "v1_bots_destroy",
            ],
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=170,
        )
        server_log = site.process.log() if site.process else ""

    assert result.returncode == 0, result.stdout[-6000:]
    assert "Traceback" not in server_log, server_log[-4000:]
