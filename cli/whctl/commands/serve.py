"""`whctl serve`: the monitoring dashboard and REST API (read-only), on a production WSGI server."""
from __future__ import annotations

import click

from whctl.options import SOURCE, settings_options
from whctl.output import progress

# The dashboard's own --host/--port; the stack's host is still WH_HOST.
SERVE = ("state_dir", "warehouse_dsn", "warehouse_port", "pg_user", "warehouse_db", *SOURCE, "connect_url", "connect_port")


@click.command()
@click.option("--host", "serve_host", envvar="WH_SERVE_HOST", show_envvar=True, default=None,
              help="Address to listen on [default: 127.0.0.1]. Off loopback, WH_SERVE_TOKEN is required.")
@click.option("--port", "serve_port", envvar="WH_SERVE_PORT", show_envvar=True, type=click.IntRange(1, 65535), default=None,
              help="Port to listen on [default: 8050].")
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True, help="Worker threads of the server.")
@click.option("--background", is_flag=True,
              help="Run as a process of the local stack (pid file and log in the state folder, stopped by"
                   " `whctl stack down`): start it unless it runs, wait until it answers, print its URL.")
@settings_options(*SERVE)
def serve(settings, serve_host: str | None, serve_port: int | None, threads: int, background: bool):
    """The dashboard page, the REST API (/api/v1, /api/v1/openapi.json) and /metrics.

    Reads the warehouse as the read-only analyst role (wh_analyst, password as `whctl deploy` set
    it, or WH_WH_ANALYST_PASSWORD) and health through the checks of `whctl status`. Served by
    waitress. Off loopback every request needs the token of WH_SERVE_TOKEN
    (`Authorization: Bearer <token>`, or `?token=` for the page).
    """
    import waitress

    from whctl.localstack.dashboard import DashboardComponent
    from whctl.web import create_app

    settings = settings.with_overrides(serve_host=serve_host, serve_port=serve_port)
    app = create_app(settings)   # refuses a non-loopback address without a token, in the foreground
    dashboard = DashboardComponent(settings)
    if background:
        if dashboard.pid() is None:
            progress(f"starting the dashboard (log: {dashboard.log_file})")
            dashboard.launch()
        dashboard.wait_ready()
        click.echo(dashboard.url)
        return
    progress(f"whctl dashboard on {dashboard.url} (API /api/v1/, metrics /metrics)")
    waitress.serve(app, host=settings.serve_host, port=settings.serve_port, threads=threads, ident="whctl")
