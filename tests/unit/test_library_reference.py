"""The library guide's component reference is the code's: regenerated, it is unchanged."""

from __future__ import annotations

from devkit.component_reference import PAGE, component_classes, page_with_reference


def test_the_library_guide_lists_each_component_with_the_args_the_code_has() -> None:
    page = PAGE.read_text()
    assert page == page_with_reference(page), "stale: python -m devkit.component_reference"


def test_the_reference_covers_the_platform_and_the_components_it_composes() -> None:
    names = {cls.__name__ for cls in component_classes()}
    assert {"RegistryPlatform", "DistributionRegistry", "HarborRegistry", "RegistryAuth"} <= names
