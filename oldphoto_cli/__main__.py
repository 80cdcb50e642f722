"""``python -m oldphoto_cli`` runs the command line."""

from oldphoto_cli.cli.app import main

main()
