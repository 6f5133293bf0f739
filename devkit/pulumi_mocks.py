"""Run Pulumi code under mocks and look at what it registered.

Secret inputs reach the mock monitor wrapped in Pulumi's secret envelope, so a test can tell a
secret-marked value from a plain one, which is how the real engine decides what to encrypt.
"""

from __future__ import annotations

import base64
import runpy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dill
import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]
    read_id: str | None = None
    """The id of an existing object this program reads (`Resource.get`); None when it creates."""
    transforms: list[Any] = field(default_factory=list)


@dataclass
class StackState:
    """What Pulumi state keeps between runs of one stack: the outputs of dynamic resources
    (such as the stack key), made by their provider's `create` on the first run and reused
    after, as the engine does when their diff finds no change. A new StackState is a new stack."""

    dynamic: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def outputs(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if name not in self.dynamic:
            provider = dill.loads(base64.b64decode(unwrap(inputs[DYNAMIC_PROVIDER_KEY])))
            props = {k: v for k, v in inputs.items() if k != DYNAMIC_PROVIDER_KEY}
            created = provider.create(props)
            self.dynamic[name] = (created.id, {**props, **(created.outs or {})})
        return self.dynamic[name]


DYNAMIC_PROVIDER_KEY = "__provider"


@dataclass
class Recorder(pulumi.runtime.Mocks):
    resources: list[Registered] = field(default_factory=list)
    urns: list[str] = field(default_factory=list)
    existing: dict[str, dict[str, Any]] = field(default_factory=dict)
    """State of objects already in the cluster, by type token, returned to reads."""
    stack: StackState = field(default_factory=StackState)
    last_run: dict[str, Any] = field(default_factory=dict)
    """The outputs a StackReference reads: those of the stack's last run (none: never run)."""
    aliases: dict[str, list[Any]] = field(default_factory=dict)
    """Each registered URN's aliases as the engine receives them (alias_pb2.Alias)."""
    requests: dict[str, Any] = field(default_factory=dict)
    """Each registered URN's whole registration (RegisterResourceRequest): its resource options
    (protect, dependencies, provider, ignore_changes...) beside its inputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(
            Registered(args.typ, args.name, args.inputs, args.resource_id, list(args.transforms))
        )
        if args.typ.startswith("pulumi-python:dynamic"):
            return self.stack.outputs(args.name, args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":  # read by name
            return args.resource_id or args.name, {"outputs": self.last_run}
        if args.resource_id is not None:
            return args.resource_id, self.existing.get(args.typ, {})
        return f"{args.name}-id", dict(args.inputs)

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.type == typ]

    def parent_type(self, name: str) -> str:
        """The type token of the resource's parent, read from its URN's type chain ('' for
        a top-level resource)."""
        urn = next(u for u in self.urns if u.endswith(f"::{name}"))
        chain = urn.split("::")[2].split("$")
        return chain[-2] if len(chain) > 1 else ""

    def named(self, name: str) -> Registered:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name}, got {len(matches)}"
        return matches[0]


class AliasMonitor(MockMonitor):
    """Pulumi's mock monitor, keeping each registration's aliases and options, which it does not
    hand to the mocks: the engine, not the SDK, derives the children's aliases from them."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(recorder)
        self.recorder = recorder

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        self.recorder.aliases[response.urn] = list(request.aliases)
        self.recorder.requests[response.urn] = request
        return response


def evaluate(
    build: Callable[[], Any],
    config: dict[str, Any] | None = None,
    existing: dict[str, dict[str, Any]] | None = None,
    stack: StackState | None = None,
    secret_keys: list[str] | None = None,
    preview: bool = False,
    last_run: dict[str, Any] | None = None,
) -> Recorder:
    """Run `build` under fresh mocks (stack `test`) and wait for every registration; `stack`
    carries state over from an earlier run of the same stack (a new stack when None), and
    `last_run` holds the outputs that run exported; `preview` runs it as `pulumi preview`
    does, where an Output may be unknown."""
    recorder = Recorder(
        existing=existing or {}, stack=stack or StackState(), last_run=last_run or {}
    )
    pulumi.runtime.set_mocks(
        recorder, project="regstack", stack="test", preview=preview, monitor=AliasMonitor(recorder)
    )
    # Every section is a secret, as `pulumi config set --secret` leaves one holding a password.
    keys = secret_keys if secret_keys is not None else [f"regstack:{k}" for k in config or {}]
    pulumi.runtime.set_all_config(
        {f"regstack:{k}": _encode(v) for k, v in (config or {}).items()}, keys
    )

    @pulumi.runtime.test
    def run() -> None:
        build()

    run()
    monitor = pulumi.runtime.settings.get_monitor()
    assert isinstance(monitor, MockMonitor)
    recorder.urns = list(monitor.resources)
    return recorder


def run_program(
    config: dict[str, Any],
    stack: StackState | None = None,
    secret_keys: list[str] | None = None,
    existing: dict[str, dict[str, Any]] | None = None,
    last_run: dict[str, Any] | None = None,
) -> Recorder:
    """Evaluate the project's `__main__.py` with the given `regstack:` config."""
    program = lambda: runpy.run_path(str(ROOT / "__main__.py"))  # noqa: E731
    return evaluate(
        program, config, existing=existing, stack=stack, secret_keys=secret_keys, last_run=last_run
    )


def _encode(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def unwrap(value: Any) -> Any:
    """The value inside a secret envelope, or the value itself."""
    return value["value"] if is_secret(value) else value


def platform(
    raw: dict[str, Any],
    existing: dict[str, dict[str, Any]] | None = None,
    stack: StackState | None = None,
) -> Recorder:
    """What a RegistryPlatform named `rs` registers for the `regstack:` config `raw` (in the
    stack whose state `stack` holds; a new stack when None)."""
    from components.config import load_config
    from components.platform import RegistryPlatform

    cfg = load_config(raw)
    return evaluate(lambda: RegistryPlatform("rs", cfg), existing=existing, stack=stack)


def plain_strings(value: Any) -> Iterator[str]:
    """Every string in `value` that is not inside a secret envelope."""
    if is_secret(value):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from plain_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from plain_strings(item)
