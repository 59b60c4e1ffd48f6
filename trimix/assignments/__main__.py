"""``python -m trimix.assignments build|grade``: the same as ``python -m trimix assignments``."""
import sys

from trimix.assignments import main

sys.exit(main())
