"""One module per `hipvision` subcommand; see hipvision/cli.py."""
