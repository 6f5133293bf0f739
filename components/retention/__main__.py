"""`python -m components.retention`: see `cli` for the options."""

import sys

from .cli import main

sys.exit(main())
