"""``python -m harness.cli``: the ``flowlaws`` command."""

import sys

from harness.cli import main

sys.exit(main())
