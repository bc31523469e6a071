"""What the CryoDiscovery jobs of the CCP-EM pipeliner share: the job category and information, the GPU
and model options with the model card's check, and where our command-line programs are.

:mod:`relion_external.ccpem_select_job` and :mod:`relion_external.ccpem_train_job` define the two jobs on
this base; :mod:`relion_external.ccpem_pipeliner_job` is the module the pipeliner's entry points name.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path
from typing import List, Optional

from pipeliner.external_program_utils import ExternalProgram
from pipeliner.job_options import (
    FileDescription,
    InputNodeJobOption,
    JobOptionCondition,
    JobOptionValidationResult,
    StringJobOption,
)
from pipeliner.nodes import NODE_MLMODEL
from pipeliner.pipeliner_job import PipelinerJob

from relion_cryodiscovery.cli.external_args import PARAMETER_HELP
from relion_cryodiscovery.version import __version__

MODEL_CARD = "model_card.json"
#: Keywords of the model node a train job writes and a select job reads.
MODEL_KWDS = ["cryodiscovery"]


def executable(name: str) -> str:
    """``name`` in this interpreter's scripts directory (where pip put our console scripts), else
    ``name`` itself (then looked up on PATH)."""
    candidate = Path(sysconfig.get_path("scripts")) / name
    return str(candidate) if os.access(candidate, os.X_OK) else name


class CryoDiscoveryJob(PipelinerJob):
    """Shared job information for the CryoDiscovery jobs."""

    OUT_DIR = "CryoDiscovery"
    CATEGORY_LABEL = "Automated Class Selection"

    def __init__(self) -> None:
        super().__init__()
        self.jobinfo.version = __version__
        self.jobinfo.job_author = "CryoDiscovery developers"
        self.jobinfo.documentation = "docs/ccpem_pipeliner.md in the CryoDiscovery repository"
        self.jobinfo.references = []

    def runs(self, command: str) -> None:
        """The job runs our console script ``command`` (its version from ``relion_cryodiscovery --version``)."""
        self.jobinfo.programs = [
            ExternalProgram(
                command=executable(command),
                name="relion_cryodiscovery",
                vers_com=[executable("relion_cryodiscovery"), "--version"],
            )
        ]

    def gpus_option(self) -> None:
        """The ``gpus`` option, as our command lines take it."""
        self.joboptions["gpus"] = StringJobOption(
            label="GPUs:",
            default_value="",
            help_text=f"Blank = all visible GPUs ({PARAMETER_HELP['gpus']}).",
        )

    def model_option(self, key: str, label: str, help_text: str,
                     deactivate_if: Optional[JobOptionCondition] = None) -> None:
        """An optional CryoDiscovery model, given by its ``model_card.json`` (an MlModel node)."""
        self.joboptions[key] = InputNodeJobOption(
            label=label,
            node_type=NODE_MLMODEL,
            node_kwds=MODEL_KWDS,
            default_value="",
            pattern=FileDescription("CryoDiscovery model card", [MODEL_CARD]),
            help_text=help_text,
            deactivate_if=deactivate_if,
        )

    def model_card_validation(self, key: str) -> List[JobOptionValidationResult]:
        value = self.joboptions[key].value
        if value and Path(str(value)).name != MODEL_CARD:
            return [JobOptionValidationResult(
                "error", [self.joboptions[key]],
                f"choose the {MODEL_CARD} of a CryoDiscovery model directory"
                f" (a train job's model/{MODEL_CARD})",
            )]
        return []
