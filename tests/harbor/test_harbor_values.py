"""The chart values regstack renders for each exposure and TLS mode."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.addresses import harbor_external_url
from components.config import RegstackConfig
from components.harbor import ADMIN_PASSWORD_KEY, chart_source, harbor_values
from components.harbor_secrets import harbor_secrets

from .support import ADMIN_PASSWORD, SEED, harbor_config

# Without a host name the certificate names localhost: a private CA's, never a public one's.
NODE_PORT = {"registry": {"hostnames": []}, "harbor": {"expose": {"type": "nodePort"}},
             "tls": {"mode": "issuer", "issuer": {"name": "corp-ca"}}}  # fmt: skip
NO_TLS = {"profile": "dev", "tls": {"mode": "none", "issuer": None}}


def values_for(
    cfg: RegstackConfig, tls_secret_name: str | None = "regstack-certificate-tls"
) -> Any:
    return harbor_values(
        cfg.harbor,
        external_url=harbor_external_url(cfg),
        tls_secret_name=tls_secret_name if cfg.tls.mode != "none" else None,
        credentials_secret="regstack-harbor-credentials",
        secrets=harbor_secrets(SEED),
    )


def test_ingress_exposure_serves_the_regstack_certificate_for_the_first_hostname() -> None:
    expose = values_for(harbor_config())["expose"]
    assert expose["type"] == "ingress"
    assert expose["ingress"]["hosts"]["core"] == "registry.example.com"
    assert expose["tls"] == {"enabled": True, "certSource": "secret",
                             "secret": {"secretName": "regstack-certificate-tls"}}  # fmt: skip


def test_ingress_class_and_annotations_reach_the_chart() -> None:
    cfg = harbor_config(harbor={"expose": {"ingress": {"class_name": "nginx",
                                                       "annotations": {"a": "b"}}}})  # fmt: skip
    ingress = values_for(cfg)["expose"]["ingress"]
    assert (ingress["className"], ingress["annotations"]) == ("nginx", {"a": "b"})


def test_ingress_with_cert_source_none_leaves_the_certificate_to_the_controller() -> None:
    cfg = harbor_config(harbor={"expose": {"tls": {"cert_source": "none"}}})
    assert values_for(cfg)["expose"]["tls"] == {"enabled": True, "certSource": "none"}


def test_ingress_without_tls_turns_off_the_charts_https_redirect() -> None:
    expose = values_for(harbor_config(**NO_TLS))["expose"]
    assert expose["tls"] == {"enabled": False}
    assert expose["ingress"]["annotations"]["nginx.ingress.kubernetes.io/ssl-redirect"] == "false"


def test_node_port_exposure_sets_both_node_ports() -> None:
    expose = values_for(harbor_config(**NODE_PORT))["expose"]
    assert expose["nodePort"]["ports"] == {
        "http": {"nodePort": 30002},
        "https": {"nodePort": 30003},
    }
    assert "ingress" not in expose


@pytest.mark.parametrize("expose_type", ["clusterIP", "loadBalancer"])
def test_service_exposure_pins_the_service_name(expose_type: str) -> None:
    expose = values_for(harbor_config(harbor={"expose": {"type": expose_type}}))["expose"]
    assert expose[expose_type] == {"name": "harbor"}


@pytest.mark.parametrize(
    ("override", "url"),
    [
        ({}, "https://registry.example.com"),
        (NO_TLS, "http://registry.example.com"),
        (NODE_PORT, "https://localhost:30003"),
        ({**NODE_PORT, **NO_TLS}, "http://localhost:30002"),
        ({"registry": {"hostnames": []}, "harbor": {"expose": {"type": "clusterIP"}},
          "tls": {"mode": "issuer", "issuer": {"name": "corp-ca"}}},
         "https://harbor.container-registry.svc.cluster.local"),
    ],
)  # fmt: skip
def test_external_url_follows_the_first_hostname_the_exposure_and_tls(
    override: dict[str, Any], url: str
) -> None:
    assert values_for(harbor_config(**override))["externalURL"] == url


def test_the_admin_password_reaches_the_chart_only_as_an_existing_secret_name() -> None:
    values = values_for(harbor_config())
    assert values["existingSecretAdminPassword"] == "regstack-harbor-credentials"
    assert values["existingSecretAdminPasswordKey"] == ADMIN_PASSWORD_KEY
    assert "harborAdminPassword" not in values
    assert ADMIN_PASSWORD not in yaml.safe_dump(values)


@pytest.mark.parametrize(
    "path",
    ["secretKey", "core.secret", "core.xsrfKey", "core.tokenKey", "core.tokenCert",
     "jobservice.secret", "registry.secret", "registry.credentials.password",
     "registry.credentials.htpasswdString", "database.internal.password"],
)  # fmt: skip
def test_every_value_the_chart_would_generate_is_pinned(path: str) -> None:
    value: Any = values_for(harbor_config())
    for key in path.split("."):
        value = value[key]
    assert isinstance(value, str) and value


def test_persistence_keeps_claims_with_sizes_and_storage_classes() -> None:
    cfg = harbor_config(harbor={"persistence": {"registry": {"size": "100Gi",
                                                             "storage_class": "fast"}}})  # fmt: skip
    persistence = values_for(cfg)["persistence"]
    assert persistence["resourcePolicy"] == "keep"
    claims = persistence["persistentVolumeClaim"]
    assert claims["registry"] == {"size": "100Gi", "storageClass": "fast"}
    assert claims["jobservice"] == {"jobLog": {"size": "1Gi"}}


def test_trivy_is_on_and_metrics_are_switchable() -> None:
    cfg = harbor_config(harbor={"metrics": {"enabled": True, "service_monitor": True}})
    values = values_for(cfg)
    assert values["trivy"] == {"enabled": True}
    assert values["metrics"] == {"enabled": True, "serviceMonitor": {"enabled": True}}


def test_internal_tls_uses_the_named_secrets() -> None:
    names = {c: f"{c}-internal-tls" for c in ("core", "jobservice", "registry", "portal", "trivy")}
    cfg = harbor_config(harbor={"internal_tls": {"enabled": True, "secret_names": names}})
    internal = values_for(cfg)["internalTLS"]
    assert internal["certSource"] == "secret"
    assert internal["core"] == {"secretName": "core-internal-tls"}


def test_an_external_database_reads_its_password_from_the_credentials_secret() -> None:
    cfg = harbor_config(harbor={"database": {"type": "external", "host": "db.example.com",
                                             "password": "pw"}})  # fmt: skip
    database = values_for(cfg)["database"]
    assert database["external"]["existingSecret"] == "regstack-harbor-credentials"
    assert (database["external"]["host"], database["external"]["port"]) == (
        "db.example.com",
        "5432",
    )
    assert "password" not in database["external"]


def test_an_external_redis_is_addressed_as_host_and_port() -> None:
    cfg = harbor_config(harbor={"redis": {"type": "external", "host": "redis.example.com"}})
    redis = values_for(cfg)["redis"]
    # `internal` keeps the hardening's limits, which the chart reads only for its own Redis.
    assert {k: v for k, v in redis.items() if k != "internal"} == {
        "type": "external",
        "external": {"addr": "redis.example.com:6379", "username": ""},
    }


def test_extra_values_are_deep_merged_last() -> None:
    cfg = harbor_config(harbor={"extra_values": {"expose": {"ingress": {"hosts": {"core": "x"}}},
                                                 "logLevel": "debug"}})  # fmt: skip
    values = values_for(cfg)
    assert values["expose"]["ingress"]["hosts"]["core"] == "x"
    assert values["expose"]["type"] == "ingress"
    assert values["logLevel"] == "debug"


@pytest.mark.parametrize(
    ("chart", "expected"),
    [
        ({}, {"chart": "harbor", "version": "1.19.2"}),
        ({"repo": "oci://registry.example.com/charts"},
         {"chart": "oci://registry.example.com/charts/harbor", "version": "1.19.2"}),
        ({"path": "./charts/harbor"}, {"chart": "./charts/harbor"}),
    ],
)  # fmt: skip
def test_the_chart_comes_from_a_repository_an_oci_reference_or_a_path(
    chart: dict[str, str], expected: dict[str, str]
) -> None:
    source = chart_source(harbor_config(harbor={"chart": chart}).harbor)
    assert {k: v for k, v in source.items() if k != "repository_opts"} == expected
