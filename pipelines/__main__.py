"""`python -m pipelines` is the `pipelines` command."""

import sys

from pipelines.cli import main

sys.exit(main())
