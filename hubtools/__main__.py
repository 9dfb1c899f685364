"""``python -m hubtools``: the same as the ``hubtools`` command. It only hands
over to :func:`hubtools.cli.run` and defines nothing of its own."""

from __future__ import annotations

from hubtools.cli import run

if __name__ == "__main__":
    run()
