"""The PACS client: query, retrieve and send over DICOMweb (QIDO-RS, WADO-RS, STOW-RS) and classic
DIMSE (C-FIND, C-GET, C-STORE), and what is sent back: the measurement SR (`sr`), the Secondary
Capture's packing (`capture`), the record of what was sent (`sent`) and the send job
(`send_reports`). Qt-free, like core: the GUI and the CLI drive the same functions.

The network libraries (dicomweb-client, requests, pynetdicom, keyring) are the optional `pacs`
extra; they are imported inside the functions that use them, so `import hipvision.pacs` and the
CLI's parser stay light and work without the extra installed.
"""

from __future__ import annotations

from hipvision.pacs.server import PacsError, PacsServer, parse_server, secret_for

__all__ = ["PacsError", "PacsServer", "parse_server", "secret_for"]
