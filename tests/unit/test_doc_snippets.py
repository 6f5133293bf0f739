"""Every code block of README.md and docs/ is run or checked, so the docs cannot drift from the
code: stack files through `validate`, Python under the Pulumi mocks, shell commands against the
CLIs, make targets, stack outputs and config keys they name (devkit/snippets.py: the markers)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml

from components.config import ConfigError, load_config
from devkit.pulumi_mocks import ROOT, evaluate
from devkit.snippets import MARKERS, PAGES, Snippet, commands, inline_commands, snippets

ALL = list(snippets())
# Programs the docs run that are not the project's: checked for nothing but their presence here.
OTHER_PROGRAMS = {
    "microk8s", "curl", "docker", "ssh-keygen", "ssh-keyscan", "tee", "cat", "cut", "base64",
    "tr", "read", "export", "mkdir", "cp", "echo", "printf", "grep", "sort", "uniq", "head", "pip",
}  # fmt: skip
PULUMI_COMMANDS = {
    "login",
    "stack",
    "config",
    "up",
    "preview",
    "destroy",
    "refresh",
    "state",
    "plugin",
    "package",
    "install",
}


def of(*languages: str, marker: str | None = None) -> pytest.MarkDecorator:
    """Parametrize over the blocks in these languages with this marker; a block marked
    known-broken runs too, as a strict xfail: once it passes, its marker must go."""
    picked = [
        pytest.param(s, id=s.name, marks=pytest.mark.xfail(strict=True, reason=s.why))
        if s.marker == "known-broken"
        else pytest.param(s, id=s.name)
        for s in ALL
        if s.language in languages
        and s.marker in (marker, "known-broken" if marker is None else marker)
    ]
    return pytest.mark.parametrize("snippet", picked)


def validate(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    stack = tmp_path / "Pulumi.snippet.yaml"
    stack.write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "components", "validate", str(stack)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip


def test_the_pages_are_read_into_their_blocks_and_markers() -> None:
    # A reader that found nothing would let every page through.
    assert len(ALL) >= 25 and {s.language for s in ALL} == {
        "bash",
        "yaml",
        "python",
        "toml",
        "typescript",
    }
    assert {s.marker for s in ALL} - {None} <= set(MARKERS)


def test_every_marker_says_why_a_block_is_not_run_as_it_is() -> None:
    vague = [s.name for s in ALL if s.marker in ("excerpt", "known-broken") and not s.why]
    assert not vague


@of("yaml")
def test_a_stack_file_in_the_docs_validates(snippet: Snippet, tmp_path: Path) -> None:
    result = validate(snippet.body, tmp_path)
    assert result.returncode == 0, result.stderr


@of("yaml", marker="stack-fragment")
def test_a_stack_file_fragment_in_the_docs_validates_under_config(
    snippet: Snippet, tmp_path: Path
) -> None:
    # "added to FILE": the keys it needs besides its own (a secret, S3 storage) are FILE's,
    # whose secrets are placeholders until a reader sets them; "in place of KEY" drops one.
    config = yaml.safe_load("config:\n" + snippet.body)["config"]
    base = re.fullmatch(r"added to (\S+)(?: in place of (\S+))?", snippet.why or "")
    if not base:
        result = validate(yaml.safe_dump({"config": config}), tmp_path)
        assert result.returncode == 0, result.stderr
        return
    stack = yaml.safe_load((ROOT / base[1]).read_text())
    unset = set(validate(yaml.safe_dump(stack), tmp_path).stderr.splitlines())
    if base[2]:
        section, _, key = base[2].partition(".")
        del stack["config"][section][key]
    stack["config"] = merged(stack["config"], config)
    result = validate(yaml.safe_dump(stack), tmp_path)
    assert set(result.stderr.splitlines()) <= unset, result.stderr
    assert all("is a placeholder" in line for line in unset), unset


def merged(base: dict, over: dict) -> dict:
    both = dict(base)
    for key, value in over.items():
        nested = isinstance(value, dict) and isinstance(base.get(key), dict)
        both[key] = merged(base[key], value) if nested else value
    return both


@of("yaml", "toml", "python", "bash", marker="excerpt")
def test_an_excerpt_parses_in_its_language(snippet: Snippet) -> None:
    body = "\n".join(
        line.removeprefix(" " * indent(snippet.body)) for line in snippet.body.splitlines()
    )
    if snippet.language == "bash":
        result = subprocess.run(["bash", "-n"], input=body, capture_output=True, text=True,
                                check=False)  # fmt: skip
        assert result.returncode == 0, result.stderr
    else:
        parse = {"yaml": yaml.safe_load, "toml": tomllib.loads, "python": ast.parse}
        parse[snippet.language](body)


# (language, marker) pairs some test above runs; a block of any other pair would be checked by none.
CHECKED = {
    ("yaml", None), ("yaml", "stack-fragment"), ("toml", None), ("python", None), ("bash", None),
    ("bash", "session"), ("typescript", None),
    *((language, "excerpt") for language in ("yaml", "toml", "python", "bash")),
    *((language, "known-broken") for language in ("yaml", "python", "bash")),
}  # fmt: skip


def test_every_block_is_one_a_test_checks() -> None:
    unchecked = [s.name for s in ALL if (s.language, s.marker) not in CHECKED]
    assert not unchecked, "add a marker a test honours, or a test for this kind of block"


@of("typescript")
def test_a_typescript_block_is_the_example_program_the_engine_tests_run(snippet: Snippet) -> None:
    # tests/e2e/test_typescript_program_e2e.py and tests/node/test_example_programs_on_node.py
    # deploy docs/examples/typescript: a page shows one of its files as it is.
    programs = {
        path.read_text() for path in (ROOT / "docs" / "examples" / "typescript").glob("*.ts")
    }
    assert snippet.body in programs


@of("toml")
def test_a_toml_file_in_the_docs_parses(snippet: Snippet) -> None:
    tomllib.loads(snippet.body)


def indent(text: str) -> int:
    return min(len(line) - len(line.lstrip()) for line in text.splitlines() if line.strip())


# What a reader sets with `pulumi config set --secret KEY` before running a snippet that requires it.
READER_SECRET = "a-reader's-own-Passw0rd-of-length"


def run_python(snippet: Snippet) -> None:
    code = compile(snippet.body, snippet.name, "exec")
    required = re.findall(r'require(?:_secret)?\("([^"]+)"\)', snippet.body)
    evaluate(
        lambda: exec(code, {"__name__": "__main__"}),
        config={key: READER_SECRET for key in required},
    )


@of("python")
def test_a_python_block_runs_under_the_pulumi_mocks(snippet: Snippet) -> None:
    run_python(snippet)


@of("bash", marker=None)
def test_a_shell_block_is_valid_bash(snippet: Snippet) -> None:
    result = subprocess.run(
        ["bash", "-n"], input=snippet.body, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


@of("bash", marker="session")
def test_a_session_prints_what_the_docs_show(snippet: Snippet) -> None:
    command, *shown = snippet.body.splitlines()
    words = command.split()
    assert words[0].endswith("python"), "a session runs the project's Python CLIs"
    result = subprocess.run([sys.executable, *words[1:]], capture_output=True, text=True, cwd=ROOT,
                            check=False)  # fmt: skip
    assert (result.stdout + result.stderr).splitlines() == shown


@cache
def exported_outputs() -> set[str]:
    from components.data_guard import OUTPUT

    main = (ROOT / "__main__.py").read_text()
    return set(re.findall(r'pulumi\.export\("([a-z_]+)"', main)) | {OUTPUT}


def config_path_problem(path: str) -> str | None:
    """The validator's complaint about `pulumi config set --path PATH`, if the key is unknown."""
    raw: dict = {}
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path.removeprefix("regstack:"))
    node: dict | list = raw
    for part, following in zip(parts, [*parts[1:], None], strict=True):
        child = "x" if following is None else ([{}] if following.startswith("[") else {})
        if part.startswith("["):
            node = node[0] if following is not None else node  # type: ignore[index]
            continue
        node[part] = child  # type: ignore[index]
        node = child  # type: ignore[assignment]
    try:
        load_config(raw)
    except ConfigError as err:
        unknown = [str(p) for p in err.problems if "unknown key" in p.message]
        return "; ".join(unknown) or None
    return None


def check_pulumi(words: list[str]) -> None:
    assert words[1] in PULUMI_COMMANDS, words
    positional = [w for i, w in enumerate(words[2:], 2)
                  if not w.startswith("-") and words[i - 1] not in ("-s", "--stack")]  # fmt: skip
    named = positional[1] if len(positional) > 1 and not placeholder(positional[1]) else None
    if words[1:3] == ["stack", "output"] and named:
        assert named in exported_outputs(), words
    if words[1:3] == ["config", "set"] and "--path" in words and named:
        assert config_path_problem(named) is None, words


def placeholder(word: str) -> bool:
    """`NAME`, `<stack>`, `...`: prose standing for what the reader puts there."""
    return word.isupper() or "<" in word or "..." in word


@cache
def usage_of(module: str, *sub: str) -> str:
    usage = subprocess.run([sys.executable, "-m", module, *sub, "--help"], capture_output=True,
                           text=True, cwd=ROOT, check=False)  # fmt: skip
    assert usage.returncode == 0, (module, sub, usage.stderr)
    return usage.stdout


def check_python(words: list[str], copied: dict[str, str]) -> None:
    assert words[1] == "-m", words
    module, rest = words[2], words[3:]
    if module in ("venv", "pip"):
        return
    # A CLI with subcommands lists them as {a,b}: the flags are the subcommand's.
    sub = rest[:1] if re.search(r"^usage: .* \{", usage_of(module)) else []
    usage = usage_of(module, *sub)
    for flag in (w.split("=")[0] for w in rest if w.startswith("--")):
        assert re.search(rf"{re.escape(flag)}\b", usage), (flag, words)
    for name in (w for w in rest if re.fullmatch(r"(examples/)?Pulumi\.[a-z0-9-]+\.yaml", w)):
        # A reader's own stack file is the copy of one the page made with `cp`.
        stack = ROOT / copied.get(name, name)
        assert stack.exists(), name
        if rest[0] == "retention-policy":  # needs no secret: it must print a policy as shown
            printed = subprocess.run([sys.executable, "-m", module, rest[0], str(stack)],
                                     capture_output=True, text=True, cwd=ROOT, check=False)  # fmt: skip
            assert printed.returncode == 0, printed.stderr


def check_command(words: list[str], copied: dict[str, str]) -> None:
    if words[0] == "sudo" or words[:2] == ["microk8s", "kubectl"]:
        words = words[1:]
    program = Path(words[0]).name
    if program in ("python", "python3"):
        check_python(words, copied)
    elif program == "make":
        result = subprocess.run(["make", "-n", *words[1:]], capture_output=True, text=True,
                                cwd=ROOT, check=False)  # fmt: skip
        assert result.returncode == 0, result.stderr
    elif program == "pulumi":
        check_pulumi(words)
    elif program == "kubectl":
        # kubectl checks its flags before it reads `--help`, and needs no cluster for that.
        own = words[: words.index("--")] if "--" in words else words  # the rest is the pod's
        result = subprocess.run([*own, "--help"], capture_output=True, text=True, check=False)
        assert result.returncode == 0, (words, result.stderr)
    else:
        assert program in OTHER_PROGRAMS, f"{program}: a program the docs run, unknown here"


@of("bash", marker=None)
def test_every_command_of_a_shell_block_names_what_exists(snippet: Snippet) -> None:
    for words in commands(snippet.body):
        check_command(words, copies(snippet.page))


def copies(page: Path) -> dict[str, str]:
    """Destination -> source of each `cp SOURCE DEST` in the page's shell blocks."""
    blocks = (s.body for s in ALL if s.page == page and s.language == "bash")
    return {words[2]: words[1] for body in blocks for words in commands(body) if words[0] == "cp"}


RUNBOOK = ROOT / "docs" / "runbook.md"
INLINE = [(page, command) for page in PAGES for command in inline_commands(page)]


def test_the_runbook_s_inline_commands_are_found() -> None:
    assert len([command for page, command in INLINE if page == RUNBOOK]) >= 25


@pytest.mark.parametrize(("page", "command"), INLINE,
                         ids=[f"{p.relative_to(ROOT)}: {c}" for p, c in INLINE])  # fmt: skip
def test_every_command_quoted_in_the_prose_names_what_exists(page: Path, command: str) -> None:
    for words in commands(command):
        check_command(words, copies(page))
