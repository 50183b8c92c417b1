"""``python -m tagformer ...`` runs the command line (what ``torchrun -m tagformer train ...`` needs)."""

import sys

from tagformer.cli.main import main

sys.exit(main())
