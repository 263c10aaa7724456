"""Small pieces every command shares: the deployment directory, --json, the console."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from souverain.deployment import Deployment

F = TypeVar("F", bound=Callable[..., Any])


def current_deployment(ctx: click.Context) -> Deployment:
    root = ctx.find_root().obj
    return Deployment.at(root)


def json_option(function: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print machine-readable JSON instead."
    )(function)


def print_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False))


# Output to a file or a pipe is read whole, copied or searched: no table cell there is cut to
# fit the 80 columns rich assumes when it cannot ask a terminal (URLs lost their ends).
PIPED_WIDTH = 512


def console() -> Any:
    from rich.console import Console

    out = Console(highlight=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = PIPED_WIDTH
    return out
