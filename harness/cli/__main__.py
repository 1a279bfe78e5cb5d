"""`python -m harness.cli` runs the command line."""

from harness.cli.main import main

main()
