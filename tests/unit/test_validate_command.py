"""`python -m components validate` exits 0 or 2 with one line per problem, never a traceback."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from devkit.pulumi_mocks import ROOT


def limit_memory() -> None:
    # 2 GiB of address space: an input that grows without bound fails the run, not the machine.
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def validate(path: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "components", "validate", str(path)],
        capture_output=True, text=True, cwd=ROOT, check=False, preexec_fn=limit_memory,
    )  # fmt: skip


def test_the_committed_dev_stack_file_validates() -> None:
    result = validate(ROOT / "Pulumi.dev.yaml")
    assert (result.returncode, result.stderr) == (0, "")


def test_the_committed_prod_stack_file_names_the_secrets_to_set_before_the_first_up() -> None:
    result = validate(ROOT / "Pulumi.prod.yaml")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"regstack:harbor.{key}: is a placeholder, not an encrypted value: "
        f"`pulumi config set --secret --path 'harbor.{key}'`"
        for key in ("admin_password", "secret_seed")
    ]


def test_an_invalid_stack_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_text(
        "config:\n  regstack:backend: microk8s-addon\n"
        "  regstack:registry:\n    storage: {size: 5Gi}\n    colour: red\n"
    )
    result = validate(stack)
    assert result.returncode == 2
    assert sorted(result.stderr.splitlines()) == [
        "regstack:registry.colour: unknown key; allowed keys here: advertise, autoscaling, cache, "
        "create_namespace, hostnames, http_secret, image, ingress, namespace, placement, proxy, "
        "replicas, resources, service, storage, version",
        "regstack:registry.storage.size: the microk8s-addon takes whole Gi of at least 20Gi "
        "(e.g. 40Gi), got 5Gi",
    ]


def test_cross_field_problems_follow_once_the_fields_are_valid(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_text(
        "config:\n  regstack:backend: microk8s-addon\n  regstack:registry: {storage: {size: 5Gi}}\n"
    )
    result = validate(stack)
    assert (
        result.stderr
        == "regstack:registry.storage.size: the microk8s-addon takes whole Gi of at least 20Gi "
        "(e.g. 40Gi), got 5Gi\n"
    )


def test_secure_values_are_accepted_as_opaque(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.s.yaml"
    stack.write_text(
        "config:\n  regstack:auth:\n    enabled: true\n    users:\n"
        "      - name: a\n        password: {secure: 'v1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAAAA'}\n"
    )
    assert validate(stack).returncode == 0


def test_keys_of_other_namespaces_are_ignored(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.s.yaml"
    stack.write_text("config:\n  kubernetes:context: lab\n  regstack:profile: dev\n")
    assert validate(stack).returncode == 0


def alias_bomb() -> str:
    # Nine levels of nine aliases: 9**9 strings once expanded, under a key no one reads.
    lines = ['  regstack:unused:\n    a0: &a0 ["lol"]']
    for level in range(1, 10):
        lines.append(f"    a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "config:\n  regstack:backend: distribution\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("config: [\n", "is not valid YAML at line"),
        ("- just\n- a list\n", "must be a mapping with a `config:` key"),
        ("config: 42\n", "`config:` in"),
        ("\t: x\n", "is not valid YAML"),
        # Hostile documents: each once ran out of memory, printed a traceback or was accepted.
        (alias_bomb(), "is not valid YAML at line 5, column 14: aliases (*a0) are not accepted"),
        ("config:\n  regstack:x: " + "[" * 100_000 + "\n", "nested deeper than 32 levels"),
        ("config:\n  regstack:x: " + "9" * 100_000 + "\n", "a number of 100000 characters"),
        (
            "config:\n  regstack:backend: distribution\n  regstack:backend: harbor\n",
            "is not valid YAML at line 3, column 3: duplicate key regstack:backend",
        ),
        ("config:\n  regstack:x: '" + "x" * (2 << 20) + "'\n", "the file is larger than 1 MiB"),
    ],
    ids=["malformed", "list document", "scalar config", "tab", "alias bomb", "deep nesting",
         "huge number", "duplicate key", "huge file"],
)  # fmt: skip
def test_unreadable_documents_are_one_line_without_traceback(
    tmp_path: Path, content: str, message: str
) -> None:
    stack = tmp_path / "Pulumi.x.yaml"
    stack.write_text(content)
    result = validate(stack)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_missing_file_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = validate(tmp_path / "nowhere.yaml")
    assert result.returncode == 2
    assert result.stderr.startswith("regstack: cannot read") and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "has no `config:` mapping, so nothing in it would be read"),
        ("config:\n", "has no `config:` mapping, so nothing in it would be read"),
        ("encryptionsalt: v1:abc\n", "has no `config:` mapping, so nothing in it would be read"),
        ("regstack:registry:\n  hostnames: [registry.lab.local]\n",
         "has regstack: keys at the top level, where Pulumi never reads them: indent them under `config:`"),
    ],
    ids=["empty", "empty config", "no config", "a snippet without its root"],
)  # fmt: skip
def test_a_document_without_a_config_mapping_is_refused_not_called_valid(
    tmp_path: Path, content: str, message: str
) -> None:
    stack = tmp_path / "Pulumi.x.yaml"
    stack.write_text(content)
    result = validate(stack)
    assert (result.returncode, result.stdout) == (2, "")
    assert message in result.stderr


def test_the_project_file_is_refused_as_not_a_stack_file() -> None:
    result = validate(ROOT / "Pulumi.yaml")
    assert result.returncode == 2
    assert result.stderr == (
        f"regstack: {ROOT / 'Pulumi.yaml'} is a Pulumi project file (it has name: and runtime:), "
        "not a stack file: validate Pulumi.<stack>.yaml\n"
    )


def test_a_key_with_a_second_colon_is_shown_nested_under_its_section(tmp_path: Path) -> None:
    # Pulumi's config.ParseKey refuses `regstack:tls:mode`; `--path` writes `mode` under `regstack:tls`.
    stack = tmp_path / "Pulumi.x.yaml"
    stack.write_text("config:\n  regstack:tls:mode: self-signed\n")
    assert validate(stack).stderr == (
        "regstack: `regstack:tls:mode` is not a key Pulumi reads: did you mean `mode` nested "
        "under `regstack:tls:`? (`pulumi config set --path 'regstack:tls.mode' VALUE` writes it so)\n"
    )


def test_a_dotted_key_is_shown_nested_under_its_section(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.x.yaml"
    stack.write_text("config:\n  regstack:registry.service.type: NodePort\n")
    assert validate(stack).stderr == (
        "regstack:registry.service.type: unknown key (a key is not a path): did you mean "
        "`service.type` nested under `regstack:registry:`? (`pulumi config set --path "
        "'regstack:registry.service.type' VALUE` writes it so)\n"
    )


def test_pulumis_old_config_module_form_of_a_key_is_read(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.x.yaml"
    stack.write_text("config:\n  regstack:config:profile: prod\n")
    assert "the prod profile needs TLS" in validate(stack).stderr


def test_a_nested_regstack_block_is_refused_and_its_contents_checked_in_the_same_pass(
    tmp_path: Path,
) -> None:
    stack = tmp_path / "Pulumi.x.yaml"
    stack.write_text(
        "config:\n  regstack:\n    tls: {mode: self-signed}\n    registry: {colour: red}\n"
    )
    lines = validate(stack).stderr.splitlines()
    assert lines[0] == (
        "regstack:regstack: is one key to Pulumi (a `regstack:` block under `config:`), so the "
        "program reads none of it: write each key at the top of `config:` instead "
        "(regstack:tls, regstack:registry)"
    )
    assert lines[1].startswith("regstack:registry.colour: unknown key")
    assert len(lines) == 2


def test_problems_behind_a_refused_value_are_reported_in_the_same_pass(tmp_path: Path) -> None:
    # Refusing the rule's only glob empties the rule: the plaintext password and the endpoint
    # without its port were once reported only after the glob was fixed.
    stack = tmp_path / "Pulumi.x.yaml"
    stack.write_text(
        "config:\n  regstack:tls: {mode: self-signed}\n"
        "  regstack:auth:\n    enabled: true\n    users: [{name: ci, password: plain}]\n"
        "  regstack:retention:\n    enabled: true\n"
        "    rules: [{repositories: ['Team/App'], keep_last: 3}]\n"
        "  regstack:node_trust: {endpoints: ['10.0.0.5']}\n"
    )
    lines = validate(stack).stderr.splitlines()
    assert sorted(line.split(":", 2)[1] for line in lines) == [
        "auth.users[0].password",
        "node_trust.endpoints[0]",
        "retention.rules[0].repositories[0]",
    ]
