"""``python -m pixelmill_cli``: the same as the ``pixelmill`` command."""

import sys

from pixelmill_cli.main import main

sys.exit(main())
