"""`python -m suanli` runs the CLI."""

from suanli.cli.main import main

if __name__ == "__main__":
    main()
