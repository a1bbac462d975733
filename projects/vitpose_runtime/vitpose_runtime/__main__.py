"""``python -m vitpose_runtime``: the CLI (:mod:`vitpose_runtime.cli`)."""
import sys

from .cli import main

sys.exit(main())
