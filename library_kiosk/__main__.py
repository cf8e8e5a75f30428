"""``python -m library_kiosk ...`` is the ``kiosk`` command."""
import sys

from library_kiosk.cli import main

sys.exit(main())
