"""Entry script of the bundled `hipvision` executable (PyInstaller; see hipvision.spec)."""

import multiprocessing
import sys

if __name__ == "__main__":
    # DataLoader workers re-launch the frozen executable; without this they would run the CLI.
    multiprocessing.freeze_support()
    from hipvision.cli import main

    sys.exit(main())
