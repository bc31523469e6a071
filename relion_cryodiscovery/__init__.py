"""CryoDiscovery: automatic selection of good 2D/3D classes from RELION classification jobs.

From Python, two verbs (imported on first use, so ``import relion_cryodiscovery`` stays light)::

    import relion_cryodiscovery as cd
    table = cd.score("Class2D/job010/")                  # pandas.DataFrame, one row per class
    cd.select("Class2D/job010/run_it025_data.star", "External/job011/", min_particles=20)

The pipeline, in the order the package is laid out:

1. :mod:`relion_cryodiscovery.relion`     -- read a RELION Class2D/Class3D job, write RELION outputs.
2. :mod:`relion_cryodiscovery.data`       -- class images and metadata -> network inputs.
3. :mod:`relion_cryodiscovery.model`      -- the boosted Keras CNN ensemble (d1, d2, tie-breaker d3).
4. :mod:`relion_cryodiscovery.selection`  -- scores -> which classes to keep.
5. :mod:`relion_cryodiscovery.pipeline`   -- the whole job: RELION job in, selection out.
6. :mod:`relion_cryodiscovery.api`        -- :func:`score` and :func:`select`.
7. :mod:`relion_cryodiscovery.training`   -- retrain the ensemble from past RELION Select jobs.
8. :mod:`relion_cryodiscovery.evaluation` -- compare a selection with ground truth.

The simulators that make the training corpus and the tests' jobs are in the developer package
``cryodiscovery_dev.simulate`` (``dev/``), which is not installed with the package.
"""

from .version import __version__
__all__ = ["score", "select", "__version__"]


def __getattr__(name: str):
    """``relion_cryodiscovery.score``/``.select`` from :mod:`relion_cryodiscovery.api`, imported on first use."""
    if name in ("score", "select"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"score", "select"})
