"""Session fixtures for end-to-end tests: the built Pulumi toolchain and a
throwaway Kubernetes control plane (scripts/toolchain.sh, scripts/cluster.sh)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import Cluster, Engine, ensure_toolchain, pulumi_env


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Toolchain built (cached), cluster up; torn down at the end of the session."""
    bin_dir = ensure_toolchain()
    cluster = Cluster.up(tmp_path_factory.mktemp("cluster"))
    try:
        home = tmp_path_factory.mktemp("pulumi-home")
        state = tmp_path_factory.mktemp("pulumi-state")
        env = pulumi_env(home, state)
        env["KUBECONFIG"] = str(cluster.kubeconfig)
        # The programs run in the environment the tests run in: .venv (the pinned SDKs), or the
        # newest SDKs' under `make test-newest-engine`.
        yield Engine(bin_dir=bin_dir, cluster=cluster, env=env, venv=Path(sys.prefix))
    finally:
        cluster.down()
