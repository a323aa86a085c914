"""`python -m lstm_explorer ...`: see `lstm_explorer.cli`."""

import sys

from lstm_explorer.cli import main

sys.exit(main())
