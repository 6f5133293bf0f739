"""Every registry metric the alerts and dashboard name, as a real Distribution exposes it.

Starts Debian's `docker-registry` with the config the cluster gets, pushes and pulls a tiny
image with skopeo so that request metrics exist, then reads `/metrics` from the debug listener.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from components.alert_rules import alert_rules
from components.dashboard import registry_dashboard
from components.distribution_config import RenderSettings, registry_config
from tests.helpers.registry import free_port, stop_process
from tests.monitoring.rule_cases import EVERYTHING
from tests.monitoring.tools import require

pytestmark = pytest.mark.registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
# Labels Prometheus adds from the scrape target, not the registry itself.
TARGET_LABELS = {"job", "namespace"}
METRIC = re.compile(r"\bregistry_[a-z0-9_]+")
SELECTOR = re.compile(r"\b(registry_[a-z0-9_]+)\s*\{([^}]*)\}")
QUOTED = re.compile(r'"[^"]*"')


def _blob(layout: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def oci_layout(layout: Path, tag: str) -> Path:
    """A one-layer image as an OCI image layout directory, tagged `tag`."""
    (layout / "blobs" / "sha256").mkdir(parents=True)
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as archive:
        payload = b"hello from regstack\n"
        member = tarfile.TarInfo("hello.txt")
        member.size = len(payload)
        archive.addfile(member, io.BytesIO(payload))
    layer = tar.getvalue()
    diff_id = f"sha256:{hashlib.sha256(layer).hexdigest()}"
    config = {"architecture": "amd64", "os": "linux", "config": {},
              "rootfs": {"type": "layers", "diff_ids": [diff_id]}}  # fmt: skip
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   **_blob(layout, json.dumps(config).encode())},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    **_blob(layout, gzip.compress(layer, mtime=0))}],
    }  # fmt: skip
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": OCI_MANIFEST, **_blob(layout, json.dumps(manifest).encode()),
         "annotations": {"org.opencontainers.image.ref.name": tag}}]}  # fmt: skip
    (layout / "index.json").write_text(json.dumps(index))
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return layout


@dataclass(frozen=True)
class Registry:
    address: str
    metrics_url: str


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"docker-registry exited early:\n{log.read_text()}", pytrace=False)
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    pytest.fail(f"docker-registry did not answer {url} within 30s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    binary = require("docker-registry")
    work = tmp_path_factory.mktemp("registry")
    http, metrics = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    settings = RenderSettings(data_dir=str(work / "data"), http_addr=http, metrics_addr=metrics)
    config = work / "config.yml"
    config.write_text(yaml.safe_dump(registry_config(settings)))
    log = work / "registry.log"
    with log.open("wb") as output:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=output, stderr=output)
    try:
        _wait_until_up(f"http://{http}/v2/", process, log)
        yield Registry(http, f"http://{metrics}/metrics")
    finally:
        stop_process(process)


def _skopeo(*args: str) -> None:
    # --insecure-policy: the test image is unsigned and the host's policy.json is not ours.
    command = [require("skopeo"), "--insecure-policy", "copy", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stderr}"


@pytest.fixture(scope="module")
def exposition(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> str:
    """/metrics after a push and a pull, so request counters and histograms exist."""
    work = tmp_path_factory.mktemp("images")
    image = f"docker://{registry.address}/demo:t"
    _skopeo("--dest-tls-verify=false", f"oci:{oci_layout(work / 'pushed', 't')}:t", image)
    _skopeo("--src-tls-verify=false", image, f"oci:{work / 'pulled'}:t")
    with urllib.request.urlopen(registry.metrics_url, timeout=10) as response:
        text: str = response.read().decode()
    return text


def exposed_labels(exposition: str) -> dict[str, set[str]]:
    """Metric name -> label names, from Prometheus text format."""
    labels: dict[str, set[str]] = {}
    for line in exposition.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition("{")
        name = name.split()[0]
        names = re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', rest.partition("}")[0]) if rest else []
        labels.setdefault(name, set()).update(names)
    return labels


def referenced() -> dict[str, set[str]]:
    """registry_* metric -> label names matched on, from every alert and dashboard query."""
    exprs = [r["expr"] for g in alert_rules(EVERYTHING)["groups"] for r in g["rules"]]
    exprs += [
        t["expr"] for p in registry_dashboard(EVERYTHING)["panels"] for t in p.get("targets", [])
    ]
    metrics: dict[str, set[str]] = {}
    for expr in exprs:
        # Quoted label values such as job="registry-metrics" are not metric names.
        for name in METRIC.findall(QUOTED.sub('""', expr)):
            metrics.setdefault(name, set())
        for name, matchers in SELECTOR.findall(expr):
            used = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
            metrics.setdefault(name, set()).update(used - TARGET_LABELS)
    return metrics


def test_the_rules_and_dashboard_name_registry_metrics_at_all() -> None:
    assert {"registry_http_requests_total", "registry_http_request_duration_seconds_bucket"} <= set(
        referenced()
    )


def test_every_registry_metric_referenced_is_exposed_by_distribution(exposition: str) -> None:
    missing = set(referenced()) - set(exposed_labels(exposition))
    assert not missing, f"not in Distribution's /metrics: {sorted(missing)}"


def test_every_label_the_queries_match_on_is_exposed(exposition: str) -> None:
    exposed = exposed_labels(exposition)
    missing = {
        name: sorted(used - exposed.get(name, set()))
        for name, used in referenced().items()
        if used - exposed.get(name, set())
    }
    assert not missing, f"labels not on the exposed series: {missing}"


def test_distribution_reports_http_methods_in_lower_case(exposition: str) -> None:
    """The dashboard's push and pull queries match methods as `get|head`, `post|put|patch`."""
    methods = set(re.findall(r'method="([^"]*)"', exposition))
    assert methods and methods == {m.lower() for m in methods}, methods
