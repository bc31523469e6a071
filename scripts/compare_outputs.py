#!/usr/bin/env python3
"""Compare two CryoDiscovery output directories file by file: byte-identical apart from what may differ.

    python scripts/compare_outputs.py BEFORE_DIR AFTER_DIR   # exit 0 when equal as described

The comparison (what may differ, and the known, intended changes) is :mod:`cryodiscovery_dev.compare_outputs`.
"""

from __future__ import annotations

import sys

from cryodiscovery_dev.compare_outputs import main

if __name__ == "__main__":
    sys.exit(main())
