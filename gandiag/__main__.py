import sys

from gandiag.cli import main

sys.exit(main())
