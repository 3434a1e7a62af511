"""``python -m connector.emulator``: the emulator alone (the same flags as ``python -m connector emulator``)."""

import sys

from .runner import main

sys.exit(main())
