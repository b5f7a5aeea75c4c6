"""``distrack``: the command line of the DisTrackted benchmark suite."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

import bench
from bench.allocator import reuse_freed_memory
from bench.cli.context import CACHE_ENV, Session, default_cache_dir
from bench.errors import UserError
from bench.hashing import DIGEST_INDEX, digest_index
from bench.library_notices import silence_expected_notices
from bench.params import DATA_ROOT_ENV, DEFAULT_PARAMS_FILE


class FriendlyGroup(click.Group):
    """Reports user mistakes (:class:`UserError`) as one line on stderr with exit code 2, no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("Interrupted; nothing half-written was kept.", err=True)
            sys.exit(130)


def _parse_dataset_dirs(values: tuple[str, ...]) -> dict[str, str]:
    parsed = {}
    for value in values:
        name, sep, directory = value.partition("=")
        if not sep or not name or not directory:
            raise click.BadParameter(f"expected NAME=DIR, got {value!r}", param_hint="--dataset-dir")
        parsed[name] = directory
    return parsed


@click.group(
    name="distrack",
    cls=FriendlyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(bench.__version__, prog_name="distrack")
@click.option(
    "--params",
    "params_path",
    type=click.Path(path_type=Path),
    default=None,
    help=f"Parameters file (grid, profiles, dataset folders) [default: ./{DEFAULT_PARAMS_FILE}, else the "
    "defaults shipped with the package; `distrack params show` prints what is in effect].",
)
@click.option("--profile", default=None, help="Profile to use (default: 'profile' in the params file).")
@click.option(
    "--data-root",
    type=click.Path(path_type=Path),
    default=None,
    help=f"Folder holding the datasets [env {DATA_ROOT_ENV}].",
)
@click.option(
    "--models-root",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder holding pretrained weights, e.g. yamnet/yamnet.tflite [env DISTRACK_MODELS_ROOT].",
)
@click.option(
    "--dataset-dir",
    "dataset_dirs",
    multiple=True,
    metavar="NAME=DIR",
    help="Folder of one dataset, relative to the data root or absolute (repeatable).",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=None,
    help=f"Feature cache folder [env {CACHE_ENV}; default ./cache].",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.pass_context
def cli(
    ctx: click.Context,
    params_path: Path | None,
    profile: str | None,
    data_root: Path | None,
    models_root: Path | None,
    dataset_dirs: tuple[str, ...],
    cache_dir: Path | None,
    device: str,
    quiet: bool,
) -> None:
    """Distil audio datasets and evaluate the result under one fixed protocol.

    Datasets are read from a data root (--data-root or DISTRACK_DATA_ROOT); nothing is downloaded
    unless you run `distrack datasets fetch`. Freed tensor memory is kept for reuse, which changes no number
    (bench/allocator.py; DISTRACK_MALLOC=system to leave the C allocator as it is).
    """
    reuse_freed_memory()
    silence_expected_notices()
    cache = cache_dir or default_cache_dir()
    ctx.with_resource(digest_index(cache / DIGEST_INDEX))  # unchanged audio is not read again to hash it
    ctx.obj = Session(
        params_path=params_path,
        profile_name=profile,
        data_root_option=data_root,
        cache_dir=cache,
        device_name=device,
        progress=not quiet,
        dataset_dirs=_parse_dataset_dirs(dataset_dirs),
        models_root_option=models_root,
    )


def _register_commands() -> None:
    from bench.cli import (
        artefacts_cmd,
        datasets_cmd,
        distill_cmd,
        evaluate_cmd,
        features_cmd,
        leaderboard_cmd,
        params_cmd,
        records_cmd,
        reproduce_cmd,
        run_cmd,
        submission_cmd,
        tracks_cmd,
    )

    cli.add_command(datasets_cmd.datasets)
    cli.add_command(features_cmd.features)
    cli.add_command(features_cmd.invert)
    cli.add_command(evaluate_cmd.evaluate)
    cli.add_command(distill_cmd.distill)
    cli.add_command(distill_cmd.experts)
    cli.add_command(artefacts_cmd.artefacts)
    cli.add_command(distill_cmd.techniques)
    cli.add_command(tracks_cmd.tracks)
    cli.add_command(tracks_cmd.models)
    cli.add_command(records_cmd.records)
    cli.add_command(params_cmd.params)
    cli.add_command(reproduce_cmd.reproduce_cmd)
    cli.add_command(run_cmd.run)
    cli.add_command(leaderboard_cmd.leaderboard)
    cli.add_command(submission_cmd.validate)
    cli.add_command(submission_cmd.submit)
    cli.add_command(submission_cmd.verify)


_register_commands()
