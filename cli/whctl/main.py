"""The `whctl` command: one group, one module per command group under whctl/commands."""
from __future__ import annotations

import click

from whctl import __version__
from whctl.commands import demo, deploy, dimension, dlq, kpi, migrate, quarantine, rebuild, seed, serve, stack, status, supervise, verify


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="whctl")
def cli():
    """Operate the whctl warehouse: a CDC-fed e-commerce star schema in PostgreSQL.

    Data goes to stdout, progress to stderr. Every setting has a WH_* environment variable.
    """


cli.add_command(stack.stack)
cli.add_command(migrate.migrate)
cli.add_command(deploy.deploy)
cli.add_command(status.status)
cli.add_command(supervise.supervise)
cli.add_command(verify.verify)
cli.add_command(quarantine.quarantine)
cli.add_command(dlq.dlq)
cli.add_command(dimension.dimension)
cli.add_command(rebuild.rebuild)
cli.add_command(seed.seed)
cli.add_command(demo.demo)
cli.add_command(kpi.kpi)
cli.add_command(serve.serve)
