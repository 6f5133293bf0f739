"""The test cluster with a real node (REGSTACK_NODE=1 scripts/cluster.sh): pods run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from node import NodeCluster


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.node)


# Package scope: the node (kubelet, containerd, a dozen pods) stops when the node tier ends,
# not at the end of the whole suite.
@pytest.fixture(scope="package")
def node_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeCluster]:
    cluster = NodeCluster.up(tmp_path_factory.mktemp("node-cluster"))
    try:
        yield cluster
    finally:
        cluster.down()
