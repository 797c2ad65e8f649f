"""`python -m tvdesk` is the `tvdesk` command."""

import sys

from tvdesk.cli import main

sys.exit(main())
