"""Where a result came from: code version, libraries, machine."""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import importlib.util
import platform
import subprocess
from collections.abc import Iterator
from pathlib import Path

import torch
import torchaudio

import bench


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=folder, capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


# What a sweep itself writes into the checkout (result records, the board, DVC's lock file) says nothing about
# the code that ran: a record written by the tenth cell of a sweep must not call the code of the eleventh dirty.
_NOT_OUTPUTS = (":(top)", ":(top,exclude)leaderboard", ":(top,exclude)dvc.lock")


def git_commit(package: Path | None = None, cwd: Path | None = None) -> str | None:
    """The commit of the code that runs, suffixed ``-dirty`` when tracked files other than the sweep's own
    outputs (``leaderboard/``, ``dvc.lock``) have uncommitted changes.

    That is HEAD of the checkout whose ``bench/`` folder is ``package`` (default: the imported package), or
    else of the working directory's checkout if its ``bench/`` holds the same code (an installed copy, e.g.
    the Docker image's, run in a mounted clone of the same commit). Never a HEAD whose code differs: a sweep
    started from another folder or repository must not be credited to it. ``None`` when neither applies."""
    package = (package or Path(bench.__file__).parent).resolve()
    for start in (package, (cwd or Path.cwd()).resolve()):
        try:
            checkout = Path(_git(start, "rev-parse", "--show-toplevel")).resolve() / "bench"
            if checkout != package and (not checkout.is_dir() or folder_digest(checkout) != folder_digest(package)):
                continue
            commit = _git(start, "rev-parse", "HEAD")
            dirty = _git(start, "status", "--porcelain", "--untracked-files=no", "--", *_NOT_OUTPUTS)
        except (OSError, subprocess.SubprocessError):
            continue
        return f"{commit}-dirty" if dirty else commit
    return None


def environment() -> dict[str, str | None]:
    return {
        "suite_version": bench.__version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchaudio": torchaudio.__version__,
        "platform": platform.platform(),
    }


def folder_digest(root: Path) -> str:
    """sha256 over a package folder's source (.py and .json files, by relative path)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in {".py", ".json"} and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


# Modules that only map names to classes: the classes a result actually uses are digested as roots instead,
# so registering a new technique does not invalidate every other technique's results. (bench.data.registry
# is skipped with them: what the data is enters every key through the feature cache key.)
_NAME_MAPS = ("registry", "builtin")
_TOP_PACKAGE = "bench"  # holds only the version string: a release alone changes no result
# Modules (below the top package) whose code cannot change a number: progress bars, error types, atomic file
# writes, device naming and memory measurement, content hashing. Key definition 2 leaves them out of every
# content key, so a better progress bar or a faster hash never invalidates the board; definition 1 (records
# before 2026-12-03) digested them too. `distrack records rekey` moves records from 1 to 2 after proving them.
_RESULT_NEUTRAL = ("progress", "errors", "atomic", "device", "hashing", "provenance")
# Definition 3 (2026-12-03) adds what a teacher-using result depends on beyond its params: a CPU teacher trained
# with another thread count (or, for a technique, another profile recipe) is another teacher, so the keys of
# teacher-guided and data-free techniques and of tracks that read a teacher cover it (bench.pipeline.keys).
# Definitions 4 to 6 (2026-12-04) each digest the code as it is after a rewrite that changes no number a record
# holds; the definitions before it digest each module the rewrite touched as it was (a module the rewrite added
# is left out), so `distrack records rekey` can prove a record under the previous definition and move it. The
# substitution holds only while the module's digest is still the rewrite's own: any later edit is digested as it
# is, under every definition.
# - 4: nn.AvgPool2d(2) -> AvgPool2x2, the same bits on every path (tests/test_pooling.py).
# - 5: expert trajectories are cached under the CPU thread count they train with, so a distillation reads those
#   it would train itself (it read whichever a run of another thread count had cached: tests/test_experts.py).
# - 6: `--vectorise auto` on a GPU trains the seeds together only for steps of at most 10 GFLOP (measured on an
#   H200: above it, vectorised was the slower path). On a CPU, where every record was computed, auto is
#   unchanged, and the two paths differ by float reassociation only, which no key covers (tests/test_protocol.py).
_PROVEN_REWRITES: dict[str, tuple[int, str | None, str]] = {  # module: (definition, digest before, digest after)
    "bench.models.convnet": (
        4,
        "098389abaaf1c6dea8a7e57000e10046590144d2ef87c333117163fd4bf111ed",
        "595b98a51670cf4d3f977e459f955be4a079a1665cafece7dc9c9d8e59e26152",
    ),
    "bench.models.pooling": (4, None, "57f4c222f28a31a8717ca06ed7d921fa438dacc98545072dcdcd6d5246b905e5"),
    "bench.techniques.experts": (
        5,
        "d779a26f3c23548e21af37a1bbe4041c4cd254ba61501483036055572432f353",
        "ebd45bf1666d7002c8ba835e8ed8981e0d8ef0f6ee0883914d3230dd9ad13d36",
    ),
    "bench.techniques.mtt": (
        5,
        "7fc34c6b60fa7f31c7a5f997740a73563869b1f2ef71b7b79b58f558eade69c2",
        "0430801b134035d8d6c95e45bb3c2fcced4bff2cd386edb6d89bc08ff718842b",
    ),
    "bench.evaluation.vectorised": (
        6,
        "984113504eee8b1a68e412b33cdb65b9dcb7c8152d975f0e434b6b930feb1a93",
        "d90cbce3cabecc4edb1da8b74a1bfd98ba496897fb6d63763d821214f2ea75e0",
    ),
}
KEY_DEFINITIONS = (1, 2, 3, 4, 5, 6)
# Definition 1 also digested this module (teachers import it to key their artefacts), as its syntax tree was
# from 4d64da4 until definition 2 (sha256 of the semantic dump), so a migration still computes those keys.
_DEFINITION_1_PROVENANCE = "acbb430d671ce1f0fa03757b78cdd63bc668e2ec048c0cecb6cb99d5e7f55ef1"
_definition = [KEY_DEFINITIONS[-1]]


@contextlib.contextmanager
def key_definition(version: int) -> Iterator[None]:
    """Compute content keys under an earlier definition inside this block (a migration's proof step)."""
    if version not in KEY_DEFINITIONS:
        raise ValueError(f"unknown key definition {version}")
    _definition.append(version)
    try:
        yield
    finally:
        _definition.pop()


def definition_in_force() -> int:
    """The content-key definition keys are computed under (the newest, or a migration's older one)."""
    return _definition[-1]


def _before_rewrite(name: str) -> tuple[bool, str | None]:
    """(whether ``name`` is digested as it was before a proven rewrite, its digest then) under the definition in
    force."""
    if name not in _PROVEN_REWRITES:
        return False, None
    definition, before, after = _PROVEN_REWRITES[name]
    return _definition[-1] < definition and _module_summary(name)[0] == after, before


def _skipped(name: str) -> bool:
    if name == _TOP_PACKAGE or name.rsplit(".", 1)[-1] in _NAME_MAPS:
        return True
    rewritten, before = _before_rewrite(name)
    if rewritten and before is None:
        return True
    return _definition[-1] >= 2 and name.partition(".")[2] in _RESULT_NEUTRAL


@functools.cache
def _top_level(top: str) -> tuple[Path | None, Path | None]:
    """(package folder, single-module file) of a top-level import name, found without importing it."""
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None, None
    if spec is None:
        return None, None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))), None
    return None, Path(spec.origin) if spec.origin and spec.origin.endswith(".py") else None


def _module_file(name: str) -> Path | None:
    """The source file of a dotted module name, by path (no import), or None when it is no module file."""
    top, *rest = name.split(".")
    folder, single = _top_level(top)
    if folder is None:
        return single if not rest else None
    candidate = folder.joinpath(*rest)
    if (candidate / "__init__.py").is_file():
        return candidate / "__init__.py"
    as_file = candidate.parent / f"{candidate.name}.py"
    return as_file if rest and as_file.is_file() else None


def _semantic_dump(path: Path) -> str:
    """The module's syntax tree without docstrings (comments never reach it): what the code does, not how
    it is explained, so editing prose never changes a content key."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def _imports(name: str, tree_text: str, path: Path) -> set[str]:
    """Modules of the same top-level package that ``name`` imports (anywhere in its body), plus the packages
    they live in (whose ``__init__`` runs on import)."""
    top = name.split(".")[0]
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(tree_text)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != top:
                continue
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if _module_file(f"{base}.{alias.name}") else base)
    closure = set()
    for module in found:
        if module.split(".")[0] != top:
            continue
        parts = module.split(".")
        closure.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return closure


@functools.cache
def _module_summary(name: str) -> tuple[str, frozenset[str]]:
    path = _module_file(name)
    if path is None:
        return "", frozenset()
    source = path.read_text(encoding="utf-8")
    return hashlib.sha256(_semantic_dump(path).encode()).hexdigest(), frozenset(_imports(name, source, path))


def source_digest(*roots: str) -> str:
    """sha256 over the code that can change a result computed by the modules ``roots``: their syntax trees
    (docstrings and comments excluded) and those of every module of the same package they import,
    transitively, except name-to-class registries and the result-neutral modules. Editing a comment, a
    docstring, the leaderboard, the CLI or a progress bar leaves it unchanged; editing the code a result runs
    changes it."""
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in seen or _skipped(name):
            continue
        seen.add(name)
        pending.extend(_module_summary(name)[1])
    digest = hashlib.sha256()
    for name in sorted(seen):
        tree = _module_summary(name)[0]
        rewritten, before = _before_rewrite(name)
        if rewritten and before is not None:
            tree = before
        if name == __name__ and _definition[-1] == 1:
            tree = _DEFINITION_1_PROVENANCE
        digest.update(f"{name}:{tree};".encode())
    return digest.hexdigest()
