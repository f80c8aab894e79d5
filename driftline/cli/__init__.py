"""The `driftline` command line."""

from driftline.cli.main import main

__all__ = ["main"]
