"""The OpenAPI documents vendored in tests/fixtures are ../shared/attio's, and a missing one fails loudly."""

from __future__ import annotations

import pytest
from contract_helpers import FIXTURES, SHARED, SPECS, spec


@pytest.mark.parametrize("name", SPECS)
def test_the_vendored_spec_is_the_shared_one(name: str) -> None:
    assert spec(name)["paths"], f"{FIXTURES / name} declares no route"
    # ../shared is beside a checkout in CI and here; a lone clone has only the vendored copy to check.
    if SHARED.is_dir():
        shared = SHARED / name
        assert shared.is_file(), f"{shared} is gone: the contract tests' copy {FIXTURES / name} may be stale"
        assert (FIXTURES / name).read_bytes() == shared.read_bytes(), (
            f"{FIXTURES / name} differs from {shared}: copy it again (cp {shared} {FIXTURES}/)"
        )


def test_a_missing_vendored_spec_fails_naming_the_file() -> None:
    with pytest.raises(
        pytest.fail.Exception, match=r"vendored API contract .*openapi-nothing\.json is missing"
    ):
        spec("openapi-nothing.json")
