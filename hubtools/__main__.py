"""``python -m hubtools``: the same as the ``hubtools`` command."""

from hubtools.cli import run

if __name__ == "__main__":
    run()
