"""Run a Pulumi program file under Pulumi's mocks, as a consumer's project would run it, and print
what it registered as one JSON line. Standard library and `pulumi` only: it runs in environments
that have nothing of this repository installed but regstack (tests/library).

    python example_under_mocks.py PROGRAM SECRET_KEY SECRET_VALUE

The program runs in project `consumer`, with `consumer:SECRET_KEY` set as a secret. The report:
`types` registered, `plaintext` (whether SECRET_VALUE appears in any input outside Pulumi's secret
envelope), `error` (the message of a pulumi.RunError that ended the program, else null). Any other
exception ends this script with its traceback.
"""

from __future__ import annotations

import json
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc


class Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[tuple[str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registered.append((args.typ, dict(args.inputs)))
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


def plain_strings(value: Any) -> Iterator[str]:
    """Every string in `value` outside a secret envelope."""
    if isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
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


def main(program: str, key: str, secret: str) -> None:
    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, project="consumer", stack="test", preview=False)
    pulumi.runtime.set_all_config({f"consumer:{key}": secret}, [f"consumer:{key}"])

    @pulumi.runtime.test
    def run() -> None:
        runpy.run_path(program, run_name="__main__")

    # Pulumi runs a program from its directory, where the project's own packages are.
    sys.path.insert(0, str(Path(program).resolve().parent))
    error = None
    try:
        run()
    except pulumi.RunError as err:
        error = str(err)
    plaintext = any(
        secret in text for _, inputs in recorder.registered for text in plain_strings(inputs)
    )
    types = sorted({typ for typ, _ in recorder.registered})
    print(json.dumps({"types": types, "plaintext": plaintext, "error": error}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
