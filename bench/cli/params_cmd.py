"""``distrack params``: the parameters in effect, and where they come from."""

from __future__ import annotations

import click
import yaml

from bench.cli.context import Session, pass_session


@click.group()
def params() -> None:
    """The parameters file in effect (--params, ./params.yaml, or the package's defaults)."""


@params.command("show")
@click.option("--section", default=None, metavar="KEY[.KEY]", help="Only this part, e.g. profiles.quick or grid.")
@pass_session
def show(session: Session, section: str | None) -> None:
    """Print the effective parameters (checked at every level) as YAML, after the file they come from."""
    value = session.params
    for key in section.split(".") if section else []:
        if not isinstance(value, dict) or key not in value:
            raise click.BadParameter(f"no {section!r} in {session.params_file}", param_hint="--section")
        value = value[key]
    click.echo(f"# from {session.params_file}")
    click.echo(yaml.safe_dump(value, sort_keys=False).rstrip())
