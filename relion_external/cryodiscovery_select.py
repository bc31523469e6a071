#!/usr/bin/env python3
"""CryoDiscovery class selection as a RELION External job: relion_cryodiscovery select under the name
RELION's External tab runs.

Put this file's path (or the installed cryodiscovery_select command) in RELION's External tab as
"External executable", the Class2D/Class3D run_itNNN_data.star as "Input particles", and optional
Params (min_score, min_particles, min_classes, model, gpus, batch_size, relion_version, montage).
--help lists them.
"""

import os
import sys


#: Optional libraries that pandas imports when installed and that this process never uses: pyarrow
#: (starfile requires it, pandas 3 then backs its strings with it) costs the job ~38 MB and ~0.1 s.
#: Blocked only here, in the External job's own process, before pandas is imported (docs/benchmarks.md).
UNUSED_HERE = ("pyarrow",)


def main(argv: list[str] | None = None) -> int:
    """Run the External job, then leave without TensorFlow's slow interpreter shutdown."""
    if "pandas" not in sys.modules:
        for name in UNUSED_HERE:
            sys.modules.setdefault(name, None)
    from relion_cryodiscovery.cli.main import run_command
    from relion_cryodiscovery.pipeline import deferred

    deferred.FREEZE_AFTER_IMPORTS = True  # this process ends with the job

    code = run_command("select", list(sys.argv[1:] if argv is None else argv), prog="cryodiscovery_select")
    # Every output and RELION's state file are on disk: skip TensorFlow's slow interpreter
    # shutdown (~0.6 s measured in docs/benchmarks.md).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
