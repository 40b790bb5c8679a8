"""Entry script of the bundled `hipvision-gui` executable: `hipvision gui ARGS...` without a
console window (the target of the desktop launcher and of "Open with HipVision")."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from hipvision.cli import gui_main

    sys.exit(gui_main())
