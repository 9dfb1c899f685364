"""``python -m hubtools``: the same as the ``hubtools`` command."""

from hubtools.cli import main

if __name__ == "__main__":
    main()
