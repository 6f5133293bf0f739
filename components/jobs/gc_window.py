"""Hold the registry out of service while `registry garbage-collect` runs, then restore it.

Distribution's documentation warns that garbage collection while pushes continue can delete
blobs a new image needs. The GC Job therefore runs three containers around one shared directory:

  stop (init)  scale the registry Deployment to 0 and wait until its pods are gone;
  gc           `registry garbage-collect`, then write its exit code to the shared directory;
  restore      wait for that exit code (or a deadline), scale back, exit with GC's code.

`restore` runs beside `gc` rather than after it, so service comes back even when GC fails.
Scaling to zero also drops any in-memory blob descriptor cache. A shared Redis cache outlives
the pods, so `restore --redis` empties its database first: it would still describe blobs GC
removed, and a client pushing one of them again would be told it exists and skip the upload.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
# The registry's own variable for the cache password (distribution_config.ENV_REDIS_PASSWORD).
REDIS_PASSWORD_ENV = "REGISTRY_REDIS_PASSWORD"


class Api:
    """The few Kubernetes API calls this needs, authenticated with a bearer token."""

    def __init__(self, base: str, token: str, ca_file: str | None):
        self.base = base.rstrip("/")
        self.token = token
        self.context = ssl.create_default_context(cafile=ca_file)

    def request(self, method: str, path: str, body: Any = None, content_type: str = "") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        if content_type:
            request.add_header("Content-Type", content_type)
        with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
            return json.load(response)


def in_cluster_api() -> Api:
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
    token = (SERVICE_ACCOUNT / "token").read_text().strip()
    return Api(f"https://{host}:{port}", token, str(SERVICE_ACCOUNT / "ca.crt"))


def scale_path(namespace: str, deployment: str) -> str:
    return f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}/scale"


def set_replicas(api: Api, namespace: str, deployment: str, replicas: int) -> None:
    api.request("PATCH", scale_path(namespace, deployment), {"spec": {"replicas": replicas}},
                "application/merge-patch+json")  # fmt: skip


def running_pods(api: Api, namespace: str, selector: str) -> int:
    query = urllib.parse.urlencode({"labelSelector": selector})
    return len(api.request("GET", f"/api/v1/namespaces/{namespace}/pods?{query}")["items"])


def stop(api: Api, args: argparse.Namespace) -> int:
    replicas = api.request("GET", scale_path(args.namespace, args.deployment))["spec"]["replicas"]
    # A registry found at 0 (an earlier run died mid-window) comes back with one replica.
    saved = Path(args.shared) / "replicas"
    saved.write_text(str(max(replicas, 1)))
    set_replicas(api, args.namespace, args.deployment, 0)
    deadline = time.monotonic() + args.timeout
    while running_pods(api, args.namespace, args.selector):
        if time.monotonic() > deadline:
            print(f"registry pods still running after {args.timeout}s; restoring", file=sys.stderr)
            restore_replicas(api, args)
            return 1
        time.sleep(args.poll)
    print(f"registry stopped (was {saved.read_text()} replicas)")
    return 0


def restore_replicas(api: Api, args: argparse.Namespace) -> int:
    replicas = int((Path(args.shared) / "replicas").read_text())
    set_replicas(api, args.namespace, args.deployment, replicas)
    print(f"registry restored to {replicas} replicas")
    return replicas


def _command(*words: str) -> bytes:
    """A Redis command in RESP, the protocol's array of bulk strings."""
    encoded = [word.encode() for word in words]
    return b"".join([f"*{len(encoded)}\r\n".encode()]
                    + [b"$%d\r\n%s\r\n" % (len(w), w) for w in encoded])  # fmt: skip


def flush_cache(address: str, db: int, password: str | None) -> None:
    """FLUSHDB on the cache's database only (the Redis may serve others); raises OSError."""
    host, _, port = address.rpartition(":")
    commands: list[tuple[str, ...]] = [("AUTH", password)] if password else []
    commands += [("SELECT", str(db)), ("FLUSHDB",)]
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        replies = connection.makefile("rb")
        for command in commands:
            connection.sendall(_command(*command))
            reply = replies.readline().decode(errors="replace").strip()
            if not reply.startswith("+"):
                raise OSError(f"redis {command[0]} answered {reply!r}")
    print(f"blob-descriptor cache flushed (redis {address} db {db})")


def restore(api: Api, args: argparse.Namespace) -> int:
    exit_file = Path(args.shared) / "gc-exit"
    deadline = time.monotonic() + args.timeout
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(args.poll)
    flushed = True
    if args.redis:
        try:
            flush_cache(args.redis, args.redis_db, os.environ.get(REDIS_PASSWORD_ENV))
        except OSError as err:
            # Service still comes back; the failed Job is what raises the alert.
            print(f"could not flush the blob-descriptor cache: {err}", file=sys.stderr)
            flushed = False
    restore_replicas(api, args)
    if not exit_file.exists():
        print(f"garbage collection gave no result within {args.timeout}s", file=sys.stderr)
        return 1
    code = int(exit_file.read_text().strip() or 1)
    print(f"garbage collection exited with {code}")
    return code if flushed else 1


def main(argv: list[str] | None = None, api: Api | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["stop", "restore"])
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--deployment", required=True)
    parser.add_argument("--selector", required=True, help="label selector of the registry pods")
    parser.add_argument("--shared", required=True, help="directory shared by the Job's containers")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--poll", type=float, default=2)
    parser.add_argument("--redis", help="host:port of the Redis blob-descriptor cache to flush")
    parser.add_argument("--redis-db", type=int, default=0)
    args = parser.parse_args(argv)
    client = api or in_cluster_api()
    try:
        return stop(client, args) if args.action == "stop" else restore(client, args)
    except (urllib.error.URLError, OSError, KeyError, ValueError) as err:
        print(f"gc-window {args.action} failed: {err}", file=sys.stderr)
        if args.action == "stop" and (Path(args.shared) / "replicas").exists():
            restore_replicas(client, args)  # never leave the registry scaled down
        return 1


if __name__ == "__main__":
    sys.exit(main())
