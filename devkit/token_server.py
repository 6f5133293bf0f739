"""The real token server (cesanta/docker_auth's `auth_server`, scripts/token-server.sh) on
loopback, running the config regstack renders (components/token_server_config.py)."""

from __future__ import annotations

import dataclasses
import secrets
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from components.harbor_secrets import token_key_pair
from components.token_server_config import (
    REALM_PATH,
    Identity,
    TokenServerSettings,
    token_server_config,
)
from devkit.registry import built_binary, free_port, stop_process


@dataclass
class RunningTokenServer:
    realm: str
    """The URL clients fetch tokens from (the registry's `auth.token.realm`)."""
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        stop_process(self.process)


def signing_key(directory: Path) -> Path:
    """A token signing key and its self-signed certificate (`tls.key`, `tls.crt`) made as the
    component makes them (from a random seed); returns the certificate, the registry's
    `rootcertbundle`."""
    directory.mkdir(parents=True, exist_ok=True)
    key, certificate = token_key_pair(secrets.token_hex(32))
    (directory / "tls.key").write_text(key)
    (directory / "tls.key").chmod(0o600)
    (directory / "tls.crt").write_text(certificate)
    return directory / "tls.crt"


def start_token_server(
    workdir: Path,
    settings: TokenServerSettings,
    identities: list[Identity],
    ca_file: Path,
) -> RunningTokenServer:
    """`auth_server` on a free loopback port with the rendered config; keys and the serving
    certificate from `settings.key_dir` and `settings.tls_dir` (HTTPS trusted by `ca_file`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    local = dataclasses.replace(settings, addr=f"127.0.0.1:{free_port()}")
    config_path = workdir / "token-server.yml"
    config_path.write_text(yaml.safe_dump(token_server_config(local, identities)))
    log_path = workdir / "token-server.log"
    binary = built_binary("token-server.sh")
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(binary), "--logtostderr", str(config_path)], stdout=log, stderr=subprocess.STDOUT
        )
    server = RunningTokenServer(f"https://{local.addr}{REALM_PATH}", process, log_path)
    _wait_until_ready(server, ssl.create_default_context(cafile=str(ca_file)))
    return server


def _wait_until_ready(server: RunningTokenServer, context: ssl.SSLContext) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"auth_server exited:\n{server.log_path.read_text()}")
        try:
            urllib.request.urlopen(server.realm, timeout=1, context=context)
            return
        except urllib.error.HTTPError:
            return  # it answers (401 without credentials)
        except OSError:
            time.sleep(0.1)
    server.stop()
    pytest.fail(f"auth_server did not answer within 20s:\n{server.log_path.read_text()}")
