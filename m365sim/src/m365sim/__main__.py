import sys

from m365sim.cli import main

sys.exit(main())
