"""Schemathesis against our own /openapi.json: no 5xx, every answer as documented.

Every operation of every face is fuzzed with valid credentials; ``WATTBASE_FUZZ_EXAMPLES``
sets the examples per operation (``make fuzz`` raises it).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import hypothesis
import hypothesis.strategies as st
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

from tests.fuzz.seed import BASIC, KEY, Known, seed
from wattbase.api import create_app
from wattbase.config import Settings
from wattbase.core.demo import DEMO_DOMAIN, ensure_demo
from wattbase.storage.base import Store

EXAMPLES = int(os.environ.get("WATTBASE_FUZZ_EXAMPLES", "5"))
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]
# Which known ids each path parameter may take, by its name in the path.
PARAM_IDS = {"id": "id", "deviceId": "deviceId", "timeseriesId": "timeseriesId"}


def face_of(path: str) -> str:
    faces = (
        ("/{domain}/api/v1", "v1"),
        ("/api/v2", "v2"),
        ("/apollo", "apollo"),
        ("/admin", "admin"),
    )
    for prefix, face in faces:
        if path.startswith(prefix):
            return face
    return "oauth" if path.startswith("/oauth") else "health"


def credentials(face: str, known: Known) -> dict[str, str]:
    basic = {"Authorization": BASIC}
    return {"v1": {"Authorization": KEY}, "v2": basic, "admin": basic}.get(
        face, {"Authorization": known.bearer} if face == "apollo" else {}
    )


def known_ids(path: str, name: str, known: Known) -> list[str]:
    if name == "uuid":
        kind = (
            "dataset" if "/datasets/" in path else "series" if "/timeseries/" in path else "thing"
        )
        return known.ids.get(kind, [])
    return known.ids.get(PARAM_IDS.get(name, ""), [])


def fuzz(operation: schemathesis.APIOperation, mode: GenerationMode, known: Known) -> int:
    face = face_of(operation.path)
    fixed = {"domain": DEMO_DOMAIN} if "{domain}" in operation.path else None
    strategy = operation.as_strategy(mode, path_parameters=fixed, headers=credentials(face, known))
    ran = 0

    @given(case=strategy, data=st.data())
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        # A failure is reported as found: shrinking it would cost more than the whole run.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case, data: st.DataObject) -> None:
        nonlocal ran
        for name in list(case.path_parameters or {}):
            choices = known_ids(operation.path, name, known)
            # Mostly ids that exist, so that the cases reach past the 404.
            if choices and data.draw(st.integers(0, 3)) > 0:
                case.path_parameters[name] = data.draw(st.sampled_from(choices))
        ran += 1
        case.call_and_validate(checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        # Nothing to negate (no parameters, no body): negative mode has no case to make.
        if mode is GenerationMode.POSITIVE:
            raise
    return ran


def describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"[:600]


@pytest.mark.timeout(3600)
def test_every_operation_conforms(settings: Settings, store: Store, tmp_path: Path) -> None:
    ensure_demo(store)
    # The demo key is the operator's, so POST /admin/backup really writes snapshots.
    operator = {"admin_domain": DEMO_DOMAIN, "backup_dir": tmp_path / "backups"}
    app = create_app(settings.model_copy(update=operator), store=store)
    with TestClient(app) as client:
        known = seed(client)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    cases: Counter[str] = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                cases[face_of(operation.path)] += fuzz(operation, mode, known)
            except (Exception, BaseExceptionGroup) as exc:  # report all, not the first
                failures.append(f"{operation.label} ({mode}): {describe(exc)}")
    print(f"\nfuzz cases per face ({EXAMPLES} examples per operation and mode):", dict(cases))
    assert not failures, "\n\n".join(failures)
    assert set(cases) == {"v1", "v2", "apollo", "oauth", "health", "admin"}
