"""``python -m connector``."""

import gc

# The CLI owns its process, and what its imports make lives until it exits: collecting while importing only
# walks those objects again and again (docs/performance.md). cli.run freezes them for the rest of the run.
gc.disable()
from .cli import run  # noqa: E402

gc.enable()
run()
