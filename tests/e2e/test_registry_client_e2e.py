"""A stack applied by the program as it was before it became a client of `Registry` (it built
`RegistryPlatform` at the stack's root) is taken over by today's program without a change:
the platform, now Registry's child, is aliased to its old place, and so is everything under it.
Without the alias every resource would get a new URN: created anew, the old one deleted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from engine import REPO, Engine
from regstack_project import RegstackProject

from devkit.release import release_tree

pytestmark = pytest.mark.e2e

BEFORE = "2c14ca0"
"""The last commit whose program built RegistryPlatform at the stack's root."""
NAMESPACE = "client-registry"


@pytest.fixture(scope="module")
def applied_before(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegstackProject]:
    """The dev stack applied by BEFORE's program and components, then given today's program."""
    tmp = tmp_path_factory.mktemp("client")
    project = RegstackProject.dev_variant(
        engine, tmp, "client", NAMESPACE, "e2e-client-password-5b8e"
    )
    # BEFORE's components/ beside its program come first on the program's path.
    project.use_program(release_tree(tmp / "before", BEFORE) / "__main__.py")
    project.up()
    project.use_program(REPO / "__main__.py")
    yield project
    project.destroy(check=False)
    project.remove()


def test_a_stack_the_program_applied_before_it_built_registry_previews_no_change(
    applied_before: RegstackProject,
) -> None:
    # The Registry component is new, and has no state: creating it changes nothing.
    assert applied_before.preview_steps() == [("create", "regstack:index:Registry::regstack")]
