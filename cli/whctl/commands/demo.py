"""`whctl demo`: the proposal's three scenarios on a running pipeline."""
from __future__ import annotations

import click

from whctl import scenarios
from whctl.options import SOURCE, WAREHOUSE, json_option, settings_options
from whctl.output import emit, progress

_TIMEOUT = click.option("--timeout", type=float, default=scenarios.WAIT_SECONDS, show_default=True,
                        help="Seconds to wait for the warehouse to show each change.")


class _Scenarios(click.Group):
    """A group whose unknown subcommand is answered with the scenarios there are."""

    def resolve_command(self, ctx, args):
        if args and self.get_command(ctx, args[0]) is None and not args[0].startswith("-"):
            raise click.UsageError(f"no scenario {args[0]!r}; the scenarios are: {', '.join(self.list_commands(ctx))}", ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=_Scenarios)
def demo():
    """The proposal's scenarios: make a change in the source, wait for the warehouse, show it.

    Each prints a short before/after story and the SQL to paste into psql to see it yourself.
    Needs a deployed pipeline (`whctl deploy`) and sample data (`whctl seed`).
    """


def _play(settings, names: list[str], timeout: float, as_json: bool) -> None:
    progress(f"playing {', '.join(names)} against {settings.source} -> {settings.warehouse}")
    stories = [s.as_dict() for s in scenarios.run(settings, names, timeout)]
    emit(stories, as_json, scenarios.render)


def _command(name: str, doc: str):
    @demo.command(name=name, help=doc)
    @_TIMEOUT
    @settings_options(*WAREHOUSE, *SOURCE)
    @json_option
    def command(settings, timeout: float, as_json: bool):
        _play(settings, [name], timeout, as_json)

    return command


_command("customer-move", "Scenario 1: a customer with past orders moves, then orders again (SCD Type 2).")
_command("price-change", "Scenario 2: a product's price goes from 100 to 120, with an order before and after.")
_command("new-order", "Scenario 3: an order with 3 items becomes 3 facts; today's revenue grows by its total.")


@demo.command(name="all")
@_TIMEOUT
@settings_options(*WAREHOUSE, *SOURCE)
@json_option
def all_(settings, timeout: float, as_json: bool):
    """The three scenarios in a row."""
    _play(settings, list(scenarios.SCENARIOS), timeout, as_json)
