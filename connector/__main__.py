"""``python -m connector``."""

from .cli import run

run()
