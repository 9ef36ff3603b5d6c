"""Property-based API tests with schemathesis: requests generated from the server's own OpenAPI spec, valid
(positive) and invalid (negative), must never get a server error, and every response must match the spec.
The two event streams are left out (the stream of all runs never ends; both are tested in test_server_api
and test_server_live)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from server_helpers import LiveServer

from boocode.config import Settings
from boocode.server.app import create_app
from boocode.server.settings import ServerSettings

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture
def live_url(settings: Settings, project: Path) -> Iterator[str]:
    with LiveServer(create_app(ServerSettings(settings, project, poll_seconds=0.1))) as server:
        yield server.url


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: str(m.value))
def test_no_server_error_and_responses_match_the_spec(
    live_url: str, mode: schemathesis.GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{live_url}/openapi.json").exclude(path_regex=r"events$")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 16

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Case) -> None:
            case.call_and_validate(base_url=live_url, checks=CHECKS, timeout=60)

        check()
