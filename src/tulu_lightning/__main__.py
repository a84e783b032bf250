import sys

from tulu_lightning.cli import main

sys.exit(main())
