"""Run a Pulumi program file under Pulumi's mocks, as a consumer's project would run it, and print
what it registered as one JSON line. It needs only `pulumi` installed (and this checkout's devkit,
which it finds itself): it runs in environments that have nothing of this repository installed but
regstack (tests/library).

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
from pathlib import Path
from typing import Any

import pulumi

# devkit's helpers come from this checkout, last on the path: they shadow nothing installed.
sys.path.append(str(Path(__file__).resolve().parents[2]))
from devkit.pulumi_mocks import plain_strings


class Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[tuple[str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registered.append((args.typ, dict(args.inputs)))
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


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
