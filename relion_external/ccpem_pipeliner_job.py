"""CryoDiscovery as jobs of the CCP-EM pipeliner (the Python pipeliner behind CCP-EM Doppio).

Install CryoDiscovery with its ``ccpem`` extra into the environment that runs the pipeliner::

    pip install -e ".[ccpem]"        # or: pip install "relion-cryodiscovery[ccpem]"

The package's entry points (group ``ccpem_pipeliner.jobs`` in pyproject.toml) name this module's two job
types, listed by ``pipeliner --available_jobs select`` and shown in Doppio under "Automated Class Selection":

* ``cryodiscovery.select.class_averages`` (:class:`CryoDiscoverySelectJob`, defined in
  :mod:`relion_external.ccpem_select_job`): score every class of a RELION Class2D/Class3D job and write the
  selection. Input: the job's ``run_itNNN_optimiser.star`` (or its ``run_itNNN_data.star``). Outputs in
  ``CryoDiscovery/jobNNN/``: ``particles.star``, ``class_averages.star`` (2D), ``rank_optimiser.star``, the
  selected maps ``class_NNN.mrc`` (3D), ``particles_group_N.star`` (the kept classes grouped by structure,
  when asked), ``cryodiscovery_scores.csv``/``.star`` and ``cryodiscovery_montage.png``.
* ``cryodiscovery.select.class_averages.train`` (:class:`CryoDiscoveryTrainJob`, defined in
  :mod:`relion_external.ccpem_train_job`): train or fine-tune the ensemble on the project's own RELION
  Select jobs; its ``model/model_card.json`` output node is the ``model`` input of the select job.

Both share :class:`relion_external.ccpem_job_base.CryoDiscoveryJob` (job information, the GPU and model
options, where our programs are).

Command line::

    pipeliner --default_jobstar cryodiscovery.select.class_averages   # edit fn_model etc.
    pipeliner --run_job cryodiscovery_select_class_averages_job.star

Each job runs our existing command line (``cryodiscovery_select``, the RELION External-job
executable, and ``cryodiscovery_train``) by absolute path from this interpreter's ``bin``
directory, so it works even when that directory is not on ``PATH``; nothing is re-implemented here:
the input job's files are found and read with :mod:`relion_cryodiscovery.relion` (as the command
finds them), and what a job shows after its run is read by :mod:`relion_external.ccpem_results`.
These modules are imported by every pipeliner command that lists jobs: they import no TensorFlow
and do no work at import or in ``__init__``. See docs/ccpem_pipeliner.md.
"""

from __future__ import annotations

from .ccpem_select_job import CryoDiscoverySelectJob
from .ccpem_train_job import CryoDiscoveryTrainJob

__all__ = ["CryoDiscoverySelectJob", "CryoDiscoveryTrainJob"]
