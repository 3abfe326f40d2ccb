from whctl.main import cli

cli()
