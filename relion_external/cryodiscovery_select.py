#!/usr/bin/env python3
"""CryoDiscovery class selection as a RELION External job.

Put this file's path (or the installed ``cryodiscovery_select`` command) in RELION's External
tab as "External executable", the Class2D/Class3D ``run_itNNN_data.star`` as "Input particles",
and optional Params (min_score, min_particles, min_classes, model, gpus, batch_size,
relion_version, montage). ``--help`` lists them.
"""

import os
import sys


def main() -> int:
    from relion_cryodiscovery.cli.select import main as select_main

    code = select_main(sys.argv[1:], program="cryodiscovery_select")
    # Every output and RELION's state file are on disk: skip TensorFlow's slow interpreter
    # shutdown (~0.6 s measured in docs/benchmarks.md).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
