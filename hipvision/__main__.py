"""`python -m hipvision` (also what `accelerate launch -m hipvision train ...` runs)."""

import sys

from hipvision.cli import main

if __name__ == "__main__":
    sys.exit(main())
