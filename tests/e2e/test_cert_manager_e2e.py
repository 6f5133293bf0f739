"""Real issuance: cert-manager's own controller (scripts/cert-manager.sh, started by
scripts/cluster.sh) signs what regstack asks for, checked with openssl.

The dev stack's self-signed chain (bootstrap Issuer -> CA Certificate -> CA Issuer -> serving
Certificate) ends in a TLS Secret whose leaf names exactly the configured DNS names and verifies
against the CA; a program that reads the CA back (what node trust writes onto nodes) gets the
issued CA, because the CA Certificate carries `pulumi.com/waitFor` and the engine waits for it.
"""

from __future__ import annotations

import base64
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine import SCRIPTS, Engine, write_program
from regstack_project import RegstackProject

pytestmark = pytest.mark.e2e

NAMESPACE = "cm-e2e"
CERTIFICATES = f"/apis/cert-manager.io/v1/namespaces/{NAMESPACE}/certificates"
SECRETS = f"/api/v1/namespaces/{NAMESPACE}/secrets"


def wait_ready(engine: Engine, certificate: str, seconds: float = 120) -> dict[str, Any]:
    """The Certificate once cert-manager reports it Ready."""
    deadline = time.monotonic() + seconds
    while True:
        status, body = engine.cluster.get(certificate)
        conditions = body.get("status", {}).get("conditions", []) if status == 200 else []
        if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
            return body
        assert time.monotonic() < deadline, f"{certificate} not Ready: {conditions}"
        time.sleep(1)


def secret_file(engine: Engine, secret: str, key: str, directory: Path) -> Path:
    """One key of a Secret, decoded into a file for openssl."""
    status, body = engine.cluster.get(f"{SECRETS}/{secret}")
    assert status == 200, body
    path = directory / f"{secret}.{key}"
    path.write_bytes(base64.b64decode(body["data"][key]))
    return path


def openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], check=True, capture_output=True, text=True).stdout


def subject_alt_names(certificate: Path) -> set[str]:
    text = openssl("x509", "-in", str(certificate), "-noout", "-ext", "subjectAltName")
    return {name.strip() for line in text.splitlines()[1:] for name in line.split(",")}


@pytest.fixture(scope="module")
def dev(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegstackProject]:
    project = RegstackProject.dev_variant(
        engine, tmp_path_factory.mktemp("cm"), "cm-dev", NAMESPACE, "cm-e2e-password-4d1c"
    )
    project.up()
    yield project
    project.destroy(check=False)
    project.remove()


def test_cert_manager_issues_the_dev_stacks_self_signed_ca(
    dev: RegstackProject, tmp_path: Path
) -> None:
    engine = dev.engine
    wait_ready(engine, f"{CERTIFICATES}/regstack-certificate-ca")
    ca = secret_file(engine, "regstack-certificate-ca", "tls.crt", tmp_path)
    text = openssl("x509", "-in", str(ca), "-noout", "-subject", "-issuer", "-nameopt", "RFC2253",
                   "-ext", "basicConstraints")  # fmt: skip
    assert "subject=CN=regstack-certificate lab CA" in text
    assert "issuer=CN=regstack-certificate lab CA" in text  # self-signed
    assert "CA:TRUE" in text


def test_the_registry_tls_secret_holds_a_leaf_for_the_configured_names_signed_by_the_ca(
    dev: RegstackProject, tmp_path: Path
) -> None:
    engine = dev.engine
    serving = wait_ready(engine, f"{CERTIFICATES}/regstack-certificate-tls")
    ca = secret_file(engine, "regstack-certificate-ca", "tls.crt", tmp_path)
    leaf = secret_file(engine, "regstack-certificate-tls", "tls.crt", tmp_path)

    names = subject_alt_names(leaf)
    assert {f"DNS:{n}" for n in serving["spec"]["dnsNames"]} | {"IP Address:127.0.0.1"} == names
    assert "DNS:registry.lab.local" in names  # the dev stack's registry.hostnames
    assert openssl("verify", "-CAfile", str(ca), "-purpose", "sslserver", str(leaf)).strip() == (
        f"{leaf}: OK"
    )
    # The Secret hands clients the CA too, as cert-manager's CA issuer does.
    assert secret_file(engine, "regstack-certificate-tls", "ca.crt", tmp_path).read_bytes() == (
        ca.read_bytes()
    )


def test_the_readmes_lab_ca_command_reads_the_ca_from_the_ca_secret_name_output(
    dev: RegstackProject, tmp_path: Path
) -> None:
    # README "After `pulumi up`": kubectl get secret "$(pulumi stack output ca_secret_name)"
    # -o jsonpath='{.data.ca\\.crt}' | base64 -d > lab-ca.crt
    engine = dev.engine
    wait_ready(engine, f"{CERTIFICATES}/regstack-certificate-ca")
    name = dev.outputs()["ca_secret_name"]
    lab_ca = secret_file(engine, name, "ca.crt", tmp_path)
    leaf = secret_file(engine, "regstack-certificate-tls", "tls.crt", tmp_path)
    assert openssl("verify", "-CAfile", str(lab_ca), str(leaf)).strip() == f"{leaf}: OK"


READ_CA_PROGRAM = """\
import pulumi
from components.certificate import RegistryCertificate, RegistryCertificateArgs
from components.config import TlsConfig
import pulumi_kubernetes as k8s

namespace = k8s.core.v1.Namespace("ns", metadata={"name": "cm-read-ca"})
certificate = RegistryCertificate(
    "lab",
    RegistryCertificateArgs(
        namespace=namespace.metadata.name,
        tls=TlsConfig(mode="self-signed"),
        dns_names=["registry.lab.local"],
        ip_addresses=[],
        read_ca=True,
    ),
)
pulumi.export("ca_pem", certificate.ca_pem)
"""


def test_the_ca_node_trust_writes_is_the_one_cert_manager_issued(
    engine: Engine, tmp_path: Path
) -> None:
    project = write_program(tmp_path / "read-ca", "cm-read-ca", READ_CA_PROGRAM, engine.venv)
    engine.pulumi("stack", "init", "read-ca", cwd=project)
    try:
        # One `up`: the CA Secret is read in the same run that creates the chain, so the engine
        # must have waited for cert-manager (pulumi.com/waitFor) or the read fails.
        engine.pulumi("up", "--yes", "--skip-preview", cwd=project)
        exported = engine.pulumi("stack", "output", "ca_pem", cwd=project).stdout.strip()
        status, secret = engine.cluster.get("/api/v1/namespaces/cm-read-ca/secrets/lab-ca")
        assert status == 200
        assert exported == base64.b64decode(secret["data"]["ca.crt"]).decode().strip()
        status, ca = engine.cluster.get(
            "/apis/cert-manager.io/v1/namespaces/cm-read-ca/certificates/lab-ca"
        )
        assert ca["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
        engine.pulumi("preview", "--expect-no-changes", cwd=project)
    finally:
        engine.pulumi("destroy", "--yes", "--skip-preview", cwd=project, check=False)
        engine.pulumi("stack", "rm", "--yes", "--force", "read-ca", cwd=project, check=False)


def test_the_controller_runs_cert_managers_code_at_the_pinned_version(engine: Engine) -> None:
    """Its main package may come from an earlier patch release's source (cluster-versions.env):
    what it links, github.com/cert-manager/cert-manager, must be CERT_MANAGER_VERSION's."""
    versions = (SCRIPTS / "cluster-versions.env").read_text()
    pinned = re.search(r"^CERT_MANAGER_VERSION=(\S+)$", versions, re.M)
    assert pinned is not None
    binary = subprocess.run(["bash", str(SCRIPTS / "cert-manager.sh"), "--bin"], check=True,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    built = subprocess.run(["go", "version", "-m", binary], check=True, capture_output=True,
                           text=True).stdout  # fmt: skip
    linked = re.findall(r"^\tdep\tgithub\.com/cert-manager/cert-manager\t(\S+)", built, re.M)
    assert linked == [pinned[1]]
