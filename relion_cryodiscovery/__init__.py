"""CryoDiscovery: automatic selection of good 2D/3D classes from RELION classification jobs.

The pipeline, in the order the package is laid out:

1. :mod:`relion_cryodiscovery.relion`     -- read a RELION Class2D/Class3D job, write RELION outputs.
2. :mod:`relion_cryodiscovery.data`       -- class images and metadata -> network inputs.
3. :mod:`relion_cryodiscovery.model`      -- the boosted Keras CNN ensemble (d1, d2, tie-breaker d3).
4. :mod:`relion_cryodiscovery.selection`  -- scores -> which classes to keep.
5. :mod:`relion_cryodiscovery.pipeline`   -- the whole job: RELION job in, selection out.
6. :mod:`relion_cryodiscovery.training`   -- retrain the ensemble from past RELION Select jobs.
7. :mod:`relion_cryodiscovery.evaluation` -- compare a selection with ground truth.
8. :mod:`relion_cryodiscovery.simulate`   -- simulated particles and class averages for training/tests.
"""

__version__ = "0.1.0"
