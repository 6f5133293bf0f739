"""A real node: pods run on it, reach the API server and Services, and nothing is left after it."""

from __future__ import annotations

from node import PYTHON, NodeCluster, leftovers, pod


def test_a_pod_runs_to_completion_and_its_log_is_read_through_the_api_server(
    node_cluster: NodeCluster,
) -> None:
    node_cluster.apply(pod("hello", "default", "echo hello from $(hostname)"))
    node_cluster.wait_for("the pod to succeed",
                          lambda: node_cluster.pod_phase("default", "hello") == "Succeeded")  # fmt: skip
    assert node_cluster.kubectl("logs", "-n", "default", "hello").strip() == "hello from hello"


def test_a_pod_reaches_the_api_server_through_the_kubernetes_service(
    node_cluster: NodeCluster,
) -> None:
    # What the GC window's and retention's in-cluster clients do: the Service's address, the
    # pod's service-account token and the cluster CA.
    client = """
import os, ssl, urllib.request
account = "/var/run/secrets/kubernetes.io/serviceaccount"
url = "https://%s:%s/version" % (os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"])
headers = {"Authorization": "Bearer " + open(account + "/token").read()}
context = ssl.create_default_context(cafile=account + "/ca.crt")
print(urllib.request.urlopen(urllib.request.Request(url, headers=headers), context=context).read().decode())
"""
    node_cluster.apply(pod("api-client", "default", ["python", "-c", client], image=PYTHON))
    node_cluster.wait_for("the pod to finish",
                          lambda: node_cluster.pod_phase("default", "api-client") in ("Succeeded", "Failed"))  # fmt: skip
    assert '"gitVersion": "v1.34.4"' in node_cluster.kubectl("logs", "-n", "default", "api-client")


def test_stopping_the_node_leaves_no_process_mount_cgroup_or_directory(
    node_cluster: NodeCluster,
) -> None:
    node_cluster.apply(pod("sleeper", "default", "sleep 3600"))
    node_cluster.wait_for("the pod to run",
                          lambda: node_cluster.pod_phase("default", "sleeper") == "Running")  # fmt: skip
    data = node_cluster.node["REGSTACK_NODE_DATA"]
    cgroup_root = data.rsplit("/", 1)[1]

    assert node_cluster.script("node.sh", "down").returncode == 0
    try:
        assert leftovers(data, cgroup_root) == []
    finally:
        up = node_cluster.script("node.sh", "up")
        assert up.returncode == 0, up.stderr
        node_cluster.node = dict(
            line.removeprefix("export ").split("=", 1)
            for line in node_cluster.script("node.sh", "env").stdout.splitlines()
        )
