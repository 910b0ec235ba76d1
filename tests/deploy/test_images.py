"""The container images (deploy/rasa.Dockerfile, deploy/actions.Dockerfile) do what the tested
scripts do: the same Python, the same setup commands as scripts/setup.sh, the same server
commands as scripts/run.sh (the Rasa server's start script is run here with a stand-in `rasa`
that records its arguments); everything they copy exists and is not excluded from the build
context; they run as a non-root user. No image is built here: no container engine runs."""

from __future__ import annotations

import fnmatch
import json
import os
import platform
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from nlu_components.paths import PROJECT_ROOT
from scripts.train import MODEL_PATH
from tests.deploy.conftest import DEPLOY

DOCKERFILES = {"rasa": DEPLOY / "rasa.Dockerfile", "actions": DEPLOY / "actions.Dockerfile"}
SETUP = (PROJECT_ROOT / "scripts" / "setup.sh").read_text()
RUN = (PROJECT_ROOT / "scripts" / "run.sh").read_text()


def instructions(dockerfile: Path) -> List[Tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    lines = [line for line in dockerfile.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, arguments = line.strip().partition(" ")
            found.append((instruction.upper(), " ".join(arguments.split())))
    return found


def arguments_of(dockerfile: Path, instruction: str) -> List[str]:
    return [arguments for name, arguments in instructions(dockerfile) if name == instruction]


def setup_commands(*modules: str) -> List[str]:
    """scripts/setup.sh's `python -m <module> ...` commands for these modules, as the image runs
    them (the image's python, requirements.txt as scripts/run.sh chooses, no stderr filter)."""
    commands = []
    for line in SETUP.splitlines():
        match = re.match(r'\s*"\$VENV/bin/python" -m (\S+)(.*?)(?: 2> >\(.*\))?$', line)
        if match and match.group(1) in modules:
            command = f"python -m {match.group(1)}{match.group(2)}".replace(
                '"$REQUIREMENTS"', "requirements.txt"
            )
            commands.append(" ".join(command.split()))
    return commands


def dockerignore_excludes(relative: str) -> bool:
    patterns = [
        line.strip()
        for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = Path(relative).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(candidate, pattern) or fnmatch.fnmatch(candidate, pattern.replace("**/", ""))
        for pattern in patterns
        for candidate in candidates
    )


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_image_uses_the_tested_python(image: str) -> None:
    (base,) = arguments_of(DOCKERFILES[image], "FROM")
    # a pinned patch release of the tests' Python 3.10, on Debian 12 (the tests' Debian)
    tested = ".".join(platform.python_version_tuple()[:2])
    assert re.fullmatch(rf"python:{re.escape(tested)}\.\d+-slim-bookworm", base)


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_everything_an_image_copies_exists_and_is_in_the_build_context(image: str) -> None:
    copies = arguments_of(DOCKERFILES[image], "COPY")
    assert copies
    for arguments in copies:
        *sources, _target = arguments.split()
        for source in sources:
            assert not source.startswith("--"), arguments  # plain copies from the project folder
            assert (PROJECT_ROOT / source).exists(), source
            assert not dockerignore_excludes(source.rstrip("/")), source


def test_build_context_leaves_out_local_state_and_secrets() -> None:
    for path in (".venv", ".cache", "state", ".git", "deploy/.env", "deploy/clinic.env", "results"):
        assert dockerignore_excludes(path), path
    assert not dockerignore_excludes(str(MODEL_PATH.relative_to(PROJECT_ROOT)))


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_image_installs_the_pinned_requirements_as_setup_does(image: str) -> None:
    runs = " && ".join(arguments_of(DOCKERFILES[image], "RUN"))
    steps = [step.strip() for step in runs.split("&&")]
    expected = setup_commands("pip")
    assert len(expected) == 3  # upgrade pip, install --no-deps, check
    assert "python -m pip install --quiet --no-deps -r requirements.txt" in expected
    assert steps[: len(expected)] == expected


def test_rasa_image_builds_the_spacy_pipeline_and_fetches_minilm_as_setup_does() -> None:
    steps = [step.strip() for step in " && ".join(arguments_of(DOCKERFILES["rasa"], "RUN")).split("&&")]
    for command in setup_commands("scripts.fetch_minilm", "spacy_pipeline.build"):
        assert command in steps
    # the model is not retrained in the image: the one the tests ran against is copied in
    model = str(MODEL_PATH.relative_to(PROJECT_ROOT))
    assert f"{model} models/" in arguments_of(DOCKERFILES["rasa"], "COPY")
    assert f"RASA_MODEL={model}" in " ".join(arguments_of(DOCKERFILES["rasa"], "ENV"))


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_image_runs_as_a_non_root_user(image: str) -> None:
    (user,) = arguments_of(DOCKERFILES[image], "USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric, so Kubernetes' runAsNonRoot can check it
    assert any(f"--uid {uid}" in run for run in arguments_of(DOCKERFILES[image], "RUN"))
    names = [name for name, _ in instructions(DOCKERFILES[image])]
    assert names.index("USER") > max(i for i, name in enumerate(names) if name in ("RUN", "COPY"))


def test_action_server_runs_the_command_of_run_sh() -> None:
    (cmd,) = arguments_of(DOCKERFILES["actions"], "CMD")
    command = " ".join(json.loads(cmd))  # the exec form: a JSON list
    (port,) = re.findall(r"^ACTION_SERVER_PORT=(\d+)", RUN, flags=re.M)
    (tested,) = re.findall(r"\.venv/bin/(python -m rasa_sdk .*?) &$", RUN, flags=re.M)
    assert command == tested.replace('"$ACTION_SERVER_PORT"', port)
    assert "SANIC_HOST=0.0.0.0" in arguments_of(DOCKERFILES["actions"], "ENV")[0].split()
    assert arguments_of(DOCKERFILES["actions"], "EXPOSE") == [port]


def run_start_script(tmp_path: Path, environment: Dict[str, str]) -> Tuple[List[str], Dict[str, str]]:
    """Runs deploy/rasa-run.sh with a stand-in `rasa` first on PATH: its arguments and the
    environment it got."""
    stand_in = tmp_path / "rasa"
    stand_in.write_text(
        "#!/bin/sh\n"
        f'for argument in "$@"; do printf "%s\\n" "$argument"; done > {tmp_path}/arguments\n'
        f"env > {tmp_path}/environment\n"
    )
    stand_in.chmod(0o755)
    path = f"{tmp_path}:{Path(sys.executable).parent}:{os.environ['PATH']}"
    base = {key: value for key, value in os.environ.items() if not key.startswith(("CLINIC_", "REQUEST_"))}
    subprocess.run(
        ["sh", str(DEPLOY / "rasa-run.sh")],
        cwd=PROJECT_ROOT,
        env={**base, "PATH": path, **environment},
        check=True,
        timeout=60,
    )
    arguments = (tmp_path / "arguments").read_text().splitlines()
    lines = (tmp_path / "environment").read_text().splitlines()
    return arguments, dict(line.split("=", 1) for line in lines if "=" in line)


def run_sh_rasa_flags() -> Dict[str, str]:
    """scripts/run.sh's `rasa run` flags and their first values, as written."""
    (line,) = re.findall(r"rasa run (.*?--cors [^\n]*)", re.sub(r"\\\n\s*", " ", RUN))
    tokens = shlex.split(line)
    return {token: tokens[i + 1] for i, token in enumerate(tokens) if token.startswith("--")}


def test_rasa_server_starts_as_run_sh_does_but_on_the_containers_interfaces(tmp_path: Path) -> None:
    # RASA_API_JWT_SECRET turns Rasa's HTTP API on in scripts/run.sh; never in the containers.
    arguments, environment = run_start_script(tmp_path, {"RASA_API_JWT_SECRET": "x" * 40})
    assert arguments[0] == "run"
    flags = {token: arguments[i + 1] for i, token in enumerate(arguments) if token.startswith("--")}
    tested = run_sh_rasa_flags()
    assert set(flags) == {"--interface", "--port", "--model", "--credentials", "--endpoints", "--cors"}
    assert set(tested) - {"--enable-api", "--jwt-secret", "--jwt-method"} == set(flags)
    assert "--enable-api" not in arguments and "--auth-token" not in arguments
    assert (tested["--interface"], flags["--interface"]) == ("127.0.0.1", "0.0.0.0")
    assert flags["--model"] == tested["--model"] == str(MODEL_PATH.relative_to(PROJECT_ROOT))
    assert flags["--credentials"] == tested["--credentials"]
    assert flags["--endpoints"] == "deploy/endpoints.scale.yml"
    assert flags["--port"] == "5005" and arguments_of(DOCKERFILES["rasa"], "EXPOSE") == ["5005"]
    from actions.clinic import load_clinic

    assert arguments[arguments.index("--cors") + 1 :] == list(load_clinic().website_origins)
    (default_size,) = re.findall(r'REQUEST_MAX_SIZE="\$\{REQUEST_MAX_SIZE:-(\d+)\}"', RUN)
    assert environment["SANIC_REQUEST_MAX_SIZE"] == default_size


def test_rasa_server_takes_origins_body_limit_and_model_from_the_environment(tmp_path: Path) -> None:
    origins = "https://www.clinic.example https://clinic.example"
    arguments, environment = run_start_script(
        tmp_path,
        {
            "CLINIC_WEBSITE_ORIGINS": origins,
            "REQUEST_MAX_SIZE": "65536",
            "RASA_MODEL": "/models/other.tar.gz",
        },
    )
    assert arguments[arguments.index("--cors") + 1 :] == origins.split()
    assert arguments[arguments.index("--model") + 1] == "/models/other.tar.gz"
    assert environment["SANIC_REQUEST_MAX_SIZE"] == "65536"


def test_dockerfiles_pass_hadolint() -> None:
    """hadolint parses each Dockerfile as Docker does (a syntax error fails) and lints it, the shell
    of its RUN steps included (ShellCheck): no finding at any level."""
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run(
        [str(hadolint), "--no-color", "--failure-threshold", "info", *map(str, DOCKERFILES.values())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def local_modules_reached(start: List[str]) -> Dict[str, Path]:
    """The project's own modules (dotted name -> file) that importing `start` imports, following
    every `import`/`from ... import` of the project's code (function-level ones included)."""
    import ast

    def file_of(name: str) -> Optional[Path]:
        base = PROJECT_ROOT.joinpath(*name.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    reached: Dict[str, Path] = {}
    pending = list(start)
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # a module's packages run their __init__ first
            prefix = ".".join(parts[:depth])
            path = file_of(prefix)
            if path is None or prefix in reached:
                continue
            reached[prefix] = path
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    pending.extend(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom):
                    package = prefix if path.name == "__init__.py" else prefix.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        package = package.rpartition(".")[0]
                    module = ".".join(p for p in (package if node.level else "", node.module or "") if p)
                    pending.append(module)
                    pending.extend(f"{module}.{alias.name}" for alias in node.names)
    return reached


def copied_paths(image: str) -> List[str]:
    return [source.rstrip("/") for a in arguments_of(DOCKERFILES[image], "COPY") for source in a.split()[:-1]]


def is_copied(path: Path, copied: List[str]) -> bool:
    relative = path.relative_to(PROJECT_ROOT).as_posix()
    return any(relative == source or relative.startswith(source + "/") for source in copied)


def test_rasa_image_holds_all_the_code_its_channels_stores_and_components_import() -> None:
    """Every class Rasa loads by name (credentials.yml's channels, the scale-out endpoints' stores,
    config.yml's custom components) and everything they import from the project is copied in."""
    import yaml

    names = list(yaml.safe_load((PROJECT_ROOT / "credentials.yml").read_text()))
    endpoints = yaml.safe_load((DEPLOY / "endpoints.scale.yml").read_text())
    names += [endpoints[store]["type"] for store in ("tracker_store", "lock_store")]
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())
    names += [step["name"] for step in config["pipeline"] + config["policies"] if "." in step["name"]]
    modules = [name.rpartition(".")[0] for name in names]
    reached = local_modules_reached(
        [*modules, "actions.clinic", "scripts.fetch_minilm", "spacy_pipeline.build"]
    )
    assert {"channels.patient_rest", "stores.lock_store", "nlu_components.red_flags"} <= set(reached)
    copied = copied_paths("rasa")
    missing = sorted(name for name, path in reached.items() if not is_copied(path, copied))
    assert missing == []


def test_action_image_holds_all_the_code_the_actions_import() -> None:
    actions = [f"actions.{path.stem}" for path in (PROJECT_ROOT / "actions").glob("*.py")]
    reached = local_modules_reached(actions)
    copied = copied_paths("actions")
    assert sorted(name for name, path in reached.items() if not is_copied(path, copied)) == []
    # and the files they read at run time: the article's knowledge, the clinic's settings
    assert {"knowledge", "clinic.yml"} <= set(copied)
