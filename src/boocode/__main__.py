"""`python -m boocode` is the `boocode` command."""

from boocode.cli.main import main

main()
