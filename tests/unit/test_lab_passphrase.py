"""A prod-profile stack under the published lab passphrase is refused before anything is built."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from components.lab_passphrase import PUBLISHED_PASSPHRASE, published_passphrase_problem
from devkit.pulumi_mocks import run_program

PROD = {"profile": "prod", "allow_insecure": True}
# What `pulumi stack init` writes for a passphrase-encrypted stack (this one is the dev stack's).
SALT = "encryptionsalt: v1:RBn1EZDfe2s=:v1:Ob4vtEKOGKxR3DQV:wBl1adeuCRsflDCYclQCc7++YLKGrA==\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project directory the program runs in, with the mock engine's stack `test`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
    (tmp_path / "Pulumi.test.yaml").write_text(SALT)
    return tmp_path


def test_a_prod_stack_under_the_published_passphrase_registers_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PUBLISHED_PASSPHRASE)
    with pytest.raises(pulumi.RunError) as caught:
        run_program(PROD)
    assert "regstack:profile: the prod profile's secrets are encrypted with the published" in str(
        caught.value
    )
    registered = pulumi.runtime.settings.get_monitor().resources
    assert [urn for urn in registered if "pulumi:pulumi:Stack" not in urn] == []


def test_a_prod_stack_under_a_passphrase_of_its_own_is_built(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "a-passphrase-of-this-team")
    rec = run_program(PROD)
    assert [r.name for r in rec.of_type("regstack:index:RegistryPlatform")] == ["regstack"]


def test_the_published_passphrase_in_a_passphrase_file_is_refused_too(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    (project / "passphrase").write_text(PUBLISHED_PASSPHRASE + "\n")
    environ = {"PULUMI_CONFIG_PASSPHRASE_FILE": str(project / "passphrase")}
    assert published_passphrase_problem("prod", project / "Pulumi.test.yaml", environ)


def test_the_dev_profile_keeps_the_published_passphrase(project: Path) -> None:
    environ = {"PULUMI_CONFIG_PASSPHRASE": PUBLISHED_PASSPHRASE}
    assert published_passphrase_problem("dev", project / "Pulumi.test.yaml", environ) is None


def test_a_prod_stack_under_a_kms_provider_is_not_concerned_by_the_passphrase(
    project: Path,
) -> None:
    # Another provider writes no salt: the passphrase in the shell then encrypts nothing.
    (project / "Pulumi.test.yaml").write_text("secretsprovider: awskms://alias/regstack\n")
    environ = {"PULUMI_CONFIG_PASSPHRASE": PUBLISHED_PASSPHRASE}
    assert published_passphrase_problem("prod", project / "Pulumi.test.yaml", environ) is None
