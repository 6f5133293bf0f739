"""Keep writes out of the registry while `registry garbage-collect` runs, then let them back in.

Distribution's documentation warns that garbage collection while pushes continue can delete
blobs a new image needs. The GC Job's pod runs three containers around one shared directory:

  stop (init)  take the window's Lease, put a reserved tag on every in-use manifest
               (gc_protect.py: GC never deletes what the cluster runs), then close the window
               and wait until no pod that can serve still takes writes;
  gc           `timeout <GC bound> registry garbage-collect ...`, then its exit code to the
               shared directory;
  restore      wait until GC has exited, flush the Redis cache, reopen, remove the reserved
               tags, release the Lease.

Two ways to close the window, chosen per storage layout (components/garbage_collection.py):

  read-only  every serving pod is replaced by one started with Distribution's
             `storage.maintenance.readonly` (the REGISTRY_STORAGE_MAINTENANCE_READONLY variable
             in the pod template): pulls go on, pushes get 405 Method Not Allowed. A pod's
             environment is fixed when it starts, so a pod whose spec carries the variable
             cannot take writes.
  stop       scale the Deployment to zero and wait until its pods are gone.

Ordering, so that the registry never takes writes while GC may still run and the Job's deadline
never ends GC: `stop` is bounded by --timeout (on expiry it reopens and fails, GC never starts);
GC is bounded by its own `timeout`; `restore` reopens only once GC has exited (its exit code, or
the kubelet's word that the gc container terminated), so it has no deadline of its own before
GC ends. The Job's activeDeadlineSeconds is the sum of those bounds plus time for restore's
retries, which go on with backoff until they succeed or that deadline ends the pod.

What the window changed is written to the Deployment (the RECORD annotation) in the same patch
that changes it, and removed in the same patch that undoes it: a run that dies inside its window
leaves the original replica count there, and the next run (scheduled or manual) restores it.
The Lease keeps windows apart: a second run, e.g. `kubectl create job --from=cronjob/...`,
finds it held and exits without touching the registry. It expires after the Job's deadline, so
a holder that died never blocks later runs; a run that finds the holder's pod gone (deleted,
or ended) takes the Lease over at once, which is the runbook's manual recovery.

Termination (an eviction, a drain, a deleted Job): the kubelet sends SIGTERM to every
container and kills them after the pod's terminationGracePeriodSeconds. The gc container
kills garbage-collect at once (its shell traps TERM) and reports an exit code; `restore` keeps
waiting for that, then reopens and releases the Lease within the grace period, leaving the
reserved tags to the next run's sweep; `stop` interrupted inside the window reopens at once.

A shared Redis blob-descriptor cache outlives the pods, so `restore --redis` empties its
database first: it would still describe blobs GC removed, and a client pushing one of them again
would be told it exists and skip the upload. In-memory caches go with the pods: both windows
replace every pod when they reopen.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from ..retention.http import HttpClient, HttpError, ssl_context
from ..retention.inuse import fetch_in_use_from_cluster, load_in_use_dir, merged
from ..retention.plan import InUse
from ..retention.registry import Registry
from . import gc_protect

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
# The registry's own variable for the cache password (distribution_config.ENV_REDIS_PASSWORD).
REDIS_PASSWORD_ENV = "REGISTRY_REDIS_PASSWORD"
# `REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED=true` is silently ignored by Distribution;
# the whole `readonly` mapping as one value is what it reads.
READ_ONLY_ENV = "REGISTRY_STORAGE_MAINTENANCE_READONLY"
READ_ONLY_VALUE = '{"enabled":true}'
RECORD = "regstack.io/gc-window"
STRATEGIC = "application/strategic-merge-patch+json"
MICRO_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"

T = TypeVar("T")


class WindowTaken(Exception):
    """Another run holds the window: nothing of the registry is ours to touch."""


class Terminated(Exception):
    """SIGTERM arrived while `stop` held the window: reopen now, within the grace period."""


class Termination:
    """What SIGTERM does: `stop` raises Terminated once (a second signal must not break its
    reopening); `restore` only takes note, as reopening before GC exited is never safe."""

    def __init__(self) -> None:
        self.received = False
        self.raise_once = False
        self._previous: Any = None

    def install(self, raise_once: bool) -> None:
        self.raise_once = raise_once
        # Only the main thread may set handlers; a caller running steps in threads keeps its own.
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)

    def uninstall(self) -> None:
        """Give a caller of main() in-process its own handler back."""
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None
        self.received = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        print("SIGTERM: the pod is going; reopening the registry", file=sys.stderr)
        first = not self.received
        self.received = True
        if first and self.raise_once:
            raise Terminated("the pod is being terminated")


TERMINATION = Termination()


class Api:
    """The few Kubernetes API calls this needs, authenticated with a bearer token."""

    def __init__(self, base: str, token: str, ca_file: str | None):
        self.base = base.rstrip("/")
        self.token = token
        self.ca_file = ca_file
        self.context = ssl.create_default_context(cafile=ca_file)

    def request(self, method: str, path: str, body: Any = None, content_type: str = "") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        request.add_header("Content-Type", content_type or "application/json")
        with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
            return json.load(response)


def in_cluster_api(account: Path = SERVICE_ACCOUNT) -> Api:
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
    token = (account / "token").read_text().strip()
    return Api(f"https://{host}:{port}", token, str(account / "ca.crt"))


def status_of(err: Exception) -> int | None:
    return err.code if isinstance(err, urllib.error.HTTPError) else None


# --- which pods may take writes -----------------------------------------------------------------


def can_serve(pod: dict[str, Any]) -> bool:
    """Failed pods (Evicted ones included) and Succeeded ones never serve again; any other pod,
    even one being deleted, may still be answering requests."""
    return pod.get("status", {}).get("phase") not in ("Failed", "Succeeded")


def is_read_only(pod: dict[str, Any], container: str) -> bool:
    for spec in pod["spec"]["containers"]:
        if spec["name"] == container:
            env = spec.get("env") or []
            return {"name": READ_ONLY_ENV, "value": READ_ONLY_VALUE} in env
    return False


def writable_pods(api: Api, args: argparse.Namespace) -> list[str]:
    """Names of the registry's pods that could still take a push once the window is closed."""
    query = urllib.parse.urlencode({"labelSelector": args.selector})
    pods = api.request("GET", f"/api/v1/namespaces/{args.namespace}/pods?{query}")["items"]
    return [
        pod["metadata"]["name"]
        for pod in pods
        if can_serve(pod) and (args.mode == "stop" or not is_read_only(pod, args.container))
    ]


# --- the window's Lease -------------------------------------------------------------------------


def _lease_path(args: argparse.Namespace, name: str = "") -> str:
    return f"/apis/coordination.k8s.io/v1/namespaces/{args.namespace}/leases{name and '/' + name}"


def _held_by_other(spec: dict[str, Any], me: str, now: datetime) -> str | None:
    holder = spec.get("holderIdentity")
    if not holder or holder == me or "renewTime" not in spec:
        return None
    renewed = datetime.strptime(spec["renewTime"], MICRO_TIME).replace(tzinfo=UTC)
    expires = renewed + timedelta(seconds=spec.get("leaseDurationSeconds", 0))
    return f"{holder} (until {expires:%H:%M:%S} UTC)" if expires > now else None


def take_lease(api: Api, args: argparse.Namespace) -> None:
    """Hold the Lease for one Job deadline, or raise WindowTaken. Taken with the object's
    resourceVersion, so of two runs racing for it exactly one gets it."""
    now = datetime.now(UTC)
    spec = {
        "holderIdentity": args.holder,
        "leaseDurationSeconds": int(args.lease_seconds),
        "acquireTime": now.strftime(MICRO_TIME),
        "renewTime": now.strftime(MICRO_TIME),
    }
    try:
        lease = api.request("GET", _lease_path(args, args.lease))
    except urllib.error.HTTPError as err:
        if err.code != 404:
            raise
        try:
            api.request(
                "POST",
                _lease_path(args),
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": args.lease},
                    "spec": spec,
                },
            )
            return
        except urllib.error.HTTPError as race:
            if race.code == 409:
                raise WindowTaken("another run created the Lease first") from race
            raise
    other = _held_by_other(lease.get("spec", {}), args.holder, now)
    if other and not _holder_gone(api, args, lease["spec"]["holderIdentity"]):
        raise WindowTaken(f"another GC window is open: Lease {args.lease} is held by {other}")
    if other:
        print(f"taking over Lease {args.lease} from {other}: that pod is gone", file=sys.stderr)
    lease["spec"] = spec
    try:
        api.request("PUT", _lease_path(args, args.lease), lease)
    except urllib.error.HTTPError as err:
        if err.code == 409:
            raise WindowTaken("another run took the Lease first") from err
        raise


def _holder_gone(api: Api, args: argparse.Namespace, holder: str) -> bool:
    """Whether the holder's pod no longer exists, or has ended: nothing of it runs any more, so
    its window is ours to take over (its record on the Deployment says what to restore)."""
    try:
        pod = api.request("GET", f"/api/v1/namespaces/{args.namespace}/pods/{holder}")
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return True
        raise
    return not can_serve(pod)


def _lease(api: Api, args: argparse.Namespace) -> dict[str, Any]:
    """The Lease, or an empty one if someone deleted it."""
    try:
        return dict(api.request("GET", _lease_path(args, args.lease)))
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return {}
        raise


def check_lease(api: Api, args: argparse.Namespace) -> None:
    """Raise WindowTaken if another run took the Lease over (ours expired): the window is its."""
    lease = _lease(api, args)
    other = _held_by_other(lease.get("spec", {}), args.holder, datetime.now(UTC))
    if other:
        raise WindowTaken(f"Lease {args.lease} now belongs to {other}; leaving the registry to it")


def release_lease(api: Api, args: argparse.Namespace) -> None:
    lease = _lease(api, args)
    if lease.get("spec", {}).get("holderIdentity") != args.holder:
        return
    lease["spec"] = {"leaseDurationSeconds": lease["spec"].get("leaseDurationSeconds")}
    api.request("PUT", _lease_path(args, args.lease), lease)


# --- closing and reopening ----------------------------------------------------------------------


def _deployment_path(args: argparse.Namespace) -> str:
    return f"/apis/apps/v1/namespaces/{args.namespace}/deployments/{args.deployment}"


def _record(deployment: dict[str, Any]) -> dict[str, Any]:
    annotations = deployment["metadata"].get("annotations") or {}
    return dict(json.loads(annotations.get(RECORD) or "{}"))


def close(api: Api, args: argparse.Namespace) -> dict[str, Any]:
    """Record and make the change in one patch; an earlier run's record is kept, so a registry
    found at zero by a run after one that died comes back with its original count."""
    deployment = api.request("GET", _deployment_path(args))
    record = _record(deployment)
    spec: dict[str, Any] = {}
    if args.mode == "stop":
        record.setdefault("replicas", deployment["spec"].get("replicas", 1))
        spec["replicas"] = 0
    else:
        record["read_only"] = True
        pod: dict[str, Any] = {
            "containers": [
                {"name": args.container, "env": [{"name": READ_ONLY_ENV, "value": READ_ONLY_VALUE}]}
            ]
        }
        if args.pin_node:
            # With a ReadWriteOnce volume the read-only pod must start on the node that holds
            # the volume, which is the node of this pod (the volume is mounted here too).
            record["node"] = args.node
            term = {
                "matchFields": [{"key": "metadata.name", "operator": "In", "values": [args.node]}]
            }
            pod["affinity"] = {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
                }
            }
        spec["template"] = {"spec": pod}
    metadata = {
        "resourceVersion": deployment["metadata"]["resourceVersion"],
        "annotations": {RECORD: json.dumps(record, sort_keys=True)},
    }
    api.request("PATCH", _deployment_path(args), {"metadata": metadata, "spec": spec}, STRATEGIC)
    return record


def reopen(api: Api, args: argparse.Namespace) -> None:
    """Undo what the Deployment's record says, and drop the record, in one patch."""
    check_lease(api, args)
    deployment = api.request("GET", _deployment_path(args))
    record = _record(deployment)
    if not record:
        print("registry already open")
        return
    spec: dict[str, Any] = {}
    if "replicas" in record:
        spec["replicas"] = record["replicas"]
    pod: dict[str, Any] = {}
    if record.get("read_only"):
        pod["containers"] = [
            {"name": args.container, "env": [{"name": READ_ONLY_ENV, "$patch": "delete"}]}
        ]
    if record.get("node"):
        pod["affinity"] = {"nodeAffinity": None}
    if pod:
        spec["template"] = {"spec": pod}
    metadata = {
        "resourceVersion": deployment["metadata"]["resourceVersion"],
        "annotations": {RECORD: None},
    }
    api.request("PATCH", _deployment_path(args), {"metadata": metadata, "spec": spec}, STRATEGIC)
    print(f"registry reopened: undid {json.dumps(record, sort_keys=True)}")


def retrying(action: Callable[[], T], args: argparse.Namespace, what: str) -> T:
    """`action` until it succeeds, with exponential backoff; gives up after --retry-for seconds
    (the Job's deadline ends it first when that is unset)."""
    give_up = time.monotonic() + args.retry_for
    delay = args.poll
    while True:
        try:
            return action()
        except WindowTaken:
            raise
        except (OSError, KeyError, ValueError) as err:
            if time.monotonic() + delay > give_up:
                raise
            print(f"{what} failed ({err}); retrying in {delay:.1f}s", file=sys.stderr)
            time.sleep(delay)
            delay = min(delay * 2, args.backoff_max)


def reopen_and_release(api: Api, args: argparse.Namespace) -> None:
    retrying(lambda: reopen(api, args), args, "reopening the registry")
    retrying(lambda: release_lease(api, args), args, "releasing the Lease")


def stop(api: Api, args: argparse.Namespace) -> int:
    TERMINATION.install(raise_once=True)
    try:
        take_lease(api, args)
    except WindowTaken as err:
        print(f"{err}; not touching the registry", file=sys.stderr)
        return 1
    except Terminated:
        retrying(lambda: release_lease(api, args), args, "releasing the Lease")
        return 1
    try:
        if args.protect_registry:
            count = gc_protect.protect(registry_client(args), inventory(api, args))
            print(f"{count} in-use manifests tagged {gc_protect.RESERVED}<digest> for the window")
        record = close(api, args)
        deadline = time.monotonic() + args.timeout
        while writable := writable_pods(api, args):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"pods still take writes after {args.timeout}s: {', '.join(writable)}"
                )
            time.sleep(args.poll)
    except (OSError, KeyError, ValueError, HttpError, Terminated) as err:
        print(f"gc-window stop failed: {err}; reopening, GC does not run", file=sys.stderr)
        try:
            reopen_and_release(api, args)
        except WindowTaken as taken:
            print(str(taken), file=sys.stderr)
        return 1
    print(f"window closed ({args.mode}): no pod takes writes; record {json.dumps(record)}")
    return 0


# --- what GC must keep --------------------------------------------------------------------------


def registry_client(args: argparse.Namespace) -> Registry:
    http = HttpClient(context=ssl_context(args.protect_ca_file))
    password = None
    if args.protect_password_file:
        password = Path(args.protect_password_file).read_text().rstrip("\n")
    return Registry(args.protect_registry, http, username=args.protect_user, password=password)


def inventory(api: Api, args: argparse.Namespace) -> InUse:
    """The shared in-use inventory: this cluster's workloads and the in-use files of others.
    Raises when the cluster cannot be read in full: then nothing is protected, GC never runs."""
    http = HttpClient(context=ssl_context(api.ca_file))
    found = fetch_in_use_from_cluster(http, api.base, api.token)
    if args.protect_in_use_dir and Path(args.protect_in_use_dir).is_dir():
        found = merged(found, load_in_use_dir(args.protect_in_use_dir))
    return found


def release_protection(args: argparse.Namespace) -> bool:
    """Remove the reserved tags once the registry takes writes again (a rollout may still be
    replacing read-only pods: 405s are retried for --protect-release-for seconds)."""
    give_up = time.monotonic() + args.protect_release_for
    delay = args.poll
    while True:
        try:
            removed = gc_protect.release(registry_client(args), lambda: TERMINATION.received)
            print(f"{removed} reserved tags removed")
            return True
        except (OSError, ValueError, HttpError) as err:
            if TERMINATION.received or time.monotonic() + delay > give_up:
                print(f"reserved tags left for the next run: {err}", file=sys.stderr)
                return False
            time.sleep(delay)
            delay = min(delay * 2, args.backoff_max)


# --- waiting for GC -----------------------------------------------------------------------------


def gc_terminated(api: Api, args: argparse.Namespace) -> bool:
    """Whether the kubelet reports the gc container of this pod as terminated."""
    pod = api.request("GET", f"/api/v1/namespaces/{args.namespace}/pods/{args.holder}")
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return any(
        s["name"] == args.gc_container and "terminated" in s.get("state", {}) for s in statuses
    )


def wait_for_gc(api: Api, args: argparse.Namespace) -> int:
    """GC's exit code, once it has exited; 1 if it ended without reporting (killed whole)."""
    exit_file = Path(args.shared) / "gc-exit"
    warned = False
    print("waiting for garbage collection to exit", flush=True)
    while not exit_file.exists():
        try:
            ended = gc_terminated(api, args)
        except (OSError, KeyError, ValueError) as err:
            if not warned:  # the exit code still ends the wait
                print(f"cannot read the gc container's state: {err}", file=sys.stderr)
            warned, ended = True, False
        if ended and not exit_file.exists():
            print("garbage collection ended without an exit code", file=sys.stderr)
            return 1
        time.sleep(args.poll)
    return int(exit_file.read_text().strip() or 1)


def _command(*words: str) -> bytes:
    """A Redis command in RESP, the protocol's array of bulk strings."""
    encoded = [word.encode() for word in words]
    return b"".join(
        [f"*{len(encoded)}\r\n".encode()] + [b"$%d\r\n%s\r\n" % (len(w), w) for w in encoded]
    )


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
    TERMINATION.install(raise_once=False)
    code = wait_for_gc(api, args)
    print(f"garbage collection exited with {code}")
    flushed = True
    if args.redis:
        try:
            flush_cache(args.redis, args.redis_db, os.environ.get(REDIS_PASSWORD_ENV))
        except OSError as err:
            # Service still comes back; the failed Job is what raises the alert.
            print(f"could not flush the blob-descriptor cache: {err}", file=sys.stderr)
            flushed = False
    try:
        retrying(lambda: reopen(api, args), args, "reopening the registry")
        # Terminating: the grace period is for reopening; the next run sweeps the tags.
        released = TERMINATION.received or not args.protect_registry or release_protection(args)
        retrying(lambda: release_lease(api, args), args, "releasing the Lease")
    except WindowTaken as err:
        print(str(err), file=sys.stderr)
        return 1
    whole = flushed and released and not TERMINATION.received
    return code if whole else (code or 1)


def main(argv: list[str] | None = None, api: Api | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["stop", "restore"])
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--deployment", required=True)
    parser.add_argument("--selector", required=True, help="label selector of the registry pods")
    parser.add_argument("--shared", required=True, help="directory shared by the Job's containers")
    parser.add_argument("--mode", choices=["read-only", "stop"], default="stop")
    parser.add_argument("--container", default="registry", help="the registry's container")
    parser.add_argument(
        "--pin-node",
        action="store_true",
        help="start read-only pods on --node (a ReadWriteOnce volume's node)",
    )
    parser.add_argument("--node", default=os.environ.get("NODE_NAME", ""))
    parser.add_argument("--lease", default="registry-gc")
    parser.add_argument("--lease-seconds", type=float, default=3600)
    parser.add_argument(
        "--holder",
        default=os.environ.get("POD_NAME") or socket.gethostname(),
        help="this pod's name: the Lease's holder",
    )
    parser.add_argument("--gc-container", default="gc")
    parser.add_argument(
        "--timeout",
        type=float,
        default=600,
        help="how long stop waits for the pods to stop taking writes",
    )
    parser.add_argument(
        "--retry-for",
        type=float,
        default=float("inf"),
        help="how long reopening retries (default: until the Job's deadline)",
    )
    parser.add_argument("--poll", type=float, default=2)
    parser.add_argument("--backoff-max", type=float, default=30)
    parser.add_argument("--redis", help="host:port of the Redis blob-descriptor cache to flush")
    parser.add_argument("--redis-db", type=int, default=0)
    parser.add_argument(
        "--service-account-dir", type=Path, default=SERVICE_ACCOUNT, help="token and ca.crt"
    )
    protect = parser.add_argument_group(
        "protection", "tag in-use manifests so that --delete-untagged keeps them"
    )
    protect.add_argument("--protect-registry", help="the registry's URL; unset: no protection")
    protect.add_argument("--protect-user")
    protect.add_argument("--protect-password-file")
    protect.add_argument("--protect-ca-file")
    protect.add_argument("--protect-in-use-dir", help="in-use files of other clusters")
    protect.add_argument("--protect-release-for", type=float, default=300)
    args = parser.parse_args(argv)
    if args.pin_node and not args.node:
        parser.error("--pin-node needs --node (or NODE_NAME)")
    client = api or in_cluster_api(args.service_account_dir)
    try:
        return stop(client, args) if args.action == "stop" else restore(client, args)
    except (OSError, KeyError, ValueError, HttpError) as err:
        print(f"gc-window {args.action} failed: {err}", file=sys.stderr)
        return 1
    finally:
        TERMINATION.uninstall()


if __name__ == "__main__":
    sys.exit(main())
