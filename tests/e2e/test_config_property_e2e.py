"""Whatever `validate` accepts renders objects the real API server accepts.

Configs are drawn from each field's grammar (devkit/config_grammar.py); each one that
`load_config` accepts is rendered under the mock harness, and every Kubernetes object is sent to
the test cluster's kube-apiserver as a server-side dry run (`?dryRun=All`): Kubernetes' own
validation (names, labels, quantities, cron schedules, CRD schemas) is the judge. Derandomized
and bounded, so CI runs the same examples in a few minutes.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from engine import Cluster, Engine
from hypothesis import HealthCheck, Phase, assume, given, settings

from components.config import ConfigError, load_config
from devkit.config_grammar import distribution_config
from devkit.pulumi_mocks import Recorder, is_secret, platform


def revealed(value: Any) -> Any:
    """`value` as the provider would send it: secrets in clear (test values; the API server
    checks, e.g., that a dockerconfigjson Secret holds JSON), whole numbers as integers."""
    if is_secret(value):
        return revealed(value["value"])
    if isinstance(value, dict):
        return {k: revealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [revealed(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def kubernetes_objects(rec: Recorder) -> list[dict[str, Any]]:
    objects = []
    for r in rec.resources:
        if r.type.startswith("kubernetes:") and not r.type.startswith("kubernetes:helm.sh/"):
            manifest = revealed(r.inputs)
            # Unnamed objects get the provider's auto-name: the Pulumi name and a suffix.
            manifest.setdefault("metadata", {}).setdefault("name", f"{r.name}-0a1b2c3d")
            objects.append(manifest)
    # Under mocks a reference to an auto-named object is empty; point it at that object.
    for manifest in objects:
        ref = manifest.get("roleRef") or {}
        if ref and not ref.get("name"):
            [role] = [o for o in objects if o["kind"] == ref["kind"]]
            ref["name"] = role["metadata"]["name"]
    return objects


pytestmark = pytest.mark.e2e


class ApiServer:
    """Dry-run creates against the cluster, resolving each kind's resource by discovery."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self._resources: dict[str, dict[str, tuple[str, bool]]] = {}

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        if api_version not in self._resources:
            base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            status, body = self.cluster.get(base)
            assert status == 200, (api_version, body)
            self._resources[api_version] = {
                r["kind"]: (r["name"], r["namespaced"])
                for r in body["resources"] if "/" not in r["name"]
            }  # fmt: skip
        return self._resources[api_version][kind]

    def _post(self, path: str, manifest: dict[str, Any]) -> tuple[int, str]:
        request = urllib.request.Request(
            f"{self.cluster.api}{path}", data=json.dumps(manifest).encode(), method="POST",
            headers={"Authorization": f"Bearer {self.cluster.token}",
                     "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, context=self.cluster._ssl, timeout=20) as resp:
                return resp.status, ""
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(errors="replace")

    def dry_run(self, manifest: dict[str, Any]) -> str | None:
        """None if the API server would create `manifest`, else its refusal."""
        api_version, kind = manifest["apiVersion"], manifest["kind"]
        resource, namespaced = self._resource(api_version, kind)
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        namespace = manifest["metadata"].get("namespace")
        if namespaced:
            self.cluster.create_namespace(namespace)
            base += f"/namespaces/{namespace}"
        status, body = self._post(f"{base}/{resource}?dryRun=All", manifest)
        # 409: it exists already (an earlier example's namespace), so it passed validation.
        if status in (200, 201, 202, 409):
            return None
        return f"{kind} {manifest['metadata'].get('name')}: HTTP {status} {body[:600]}"


@pytest.fixture(scope="module")
def api(engine: Engine) -> ApiServer:
    return ApiServer(engine.cluster)


# No shrinking: on a failure the drawn config is printed as it is, and CI stays fast.
@settings(max_examples=20, derandomize=True, deadline=None,
          phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])  # fmt: skip
@given(distribution_config())
def test_every_object_of_an_accepted_config_passes_the_api_servers_validation(
    api: ApiServer, raw: dict[str, Any]
) -> None:
    try:
        load_config(raw)
    except ConfigError:
        assume(False)
    objects = kubernetes_objects(platform(raw))
    # Namespaces first: the others are created into them.
    objects.sort(key=lambda o: o["kind"] != "Namespace")
    refusals = [refusal for o in objects if (refusal := api.dry_run(o)) is not None]
    assert refusals == [], json.dumps(raw, indent=1)
