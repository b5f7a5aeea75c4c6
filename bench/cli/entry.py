"""``python -m bench.cli.entry``: the CLI without the console script (used by subprocess tests)."""

from bench.cli import cli

if __name__ == "__main__":
    cli()
