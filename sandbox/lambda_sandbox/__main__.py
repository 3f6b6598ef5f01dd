"""``python -m lambda_sandbox local invoke ...``."""

import sys

from ._cli import main

sys.exit(main())
