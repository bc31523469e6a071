"""The CCP-EM pipeliner job ``cryodiscovery.select.class_averages``: ``cryodiscovery_select`` (the RELION
External-job executable) on a RELION Class2D/Class3D job.

Its options mirror the command's parameters; its command line is that program's, run by absolute path;
its output nodes are those known at scheduling plus, after the run, every node the command declared in
``RELION_OUTPUT_NODES.star``. The input job's files are found and read with :mod:`relion_cryodiscovery.relion`
(as the command finds them); what the job reports after its run is read by :mod:`relion_external.ccpem_results`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from pipeliner.job_options import (
    EXT_RELION_OPT,
    BooleanJobOption,
    FileDescription,
    FloatJobOption,
    InputNodeJobOption,
    IntJobOption,
    JobOptionCondition,
    JobOptionValidationResult,
    MultipleChoiceJobOption,
    StringJobOption,
)
from pipeliner.node_factory import NODE_CLASSES
from pipeliner.nodes import (
    NODE_IMAGE2DGROUPMETADATA,
    NODE_OPTIMISERDATA,
    NODE_PARTICLEGROUPMETADATA,
)
from pipeliner.pipeliner_job import PipelinerCommand
from pipeliner.results_display_objects import ResultsDisplayObject

from relion_cryodiscovery.cli.external_args import PARAMETER_HELP
from relion_cryodiscovery.data.polarity import CONTRAST_CHOICES
from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.model.card import STRICTNESS_LEVELS
from relion_cryodiscovery.pipeline.parameters import JobParameters
from relion_cryodiscovery.pipeline.writing import MONTAGE_FILE
from relion_cryodiscovery.relion.job import ClassificationJob, locate_job
from relion_cryodiscovery.relion.nodes import NODES_FILE
from relion_cryodiscovery.relion.star import read_pairs

from .ccpem_job_base import MODEL_CARD, CryoDiscoveryJob
from .ccpem_results import Metadata, nodes_declared, select_metadata, select_results_display

#: RELION_OUTPUT_NODES.star labels are written for this version: RELION 5.0's labels are the
#: CCP-EM pipeliner's node types (tests/test_ccpem_pipeliner.py checks it).
RELION_VERSION = "5.0"
#: Node types of the select job's fixed outputs (those of RELION's own automatic 2D selection job).
SELECT_NODE_TYPES: Dict[str, tuple[str, List[str]]] = {
    "particles.star": (NODE_PARTICLEGROUPMETADATA, ["relion"]),
    "class_averages.star": (NODE_IMAGE2DGROUPMETADATA, ["relion", "classaverages"]),
    "rank_optimiser.star": (NODE_OPTIMISERDATA, ["relion", "autoselect"]),
}


def input_job(input_file: str) -> Optional[ClassificationJob]:
    """The Class2D/Class3D job files of an ``_optimiser.star``/``_data.star``/``_model.star``, as
    ``cryodiscovery_select`` finds them (:func:`relion_cryodiscovery.relion.job.locate_job`); None when
    they are not there yet (e.g. a scheduled input)."""
    try:
        return locate_job(input_file, require_data=False)
    except CryoDiscoveryError:
        return None


def reference_dimensionality(job: Optional[ClassificationJob]) -> Optional[int]:
    """2 or 3 from the job's ``_model.star`` (``_rlnReferenceDimensionality`` in ``model_general``), or
    None if it cannot be read."""
    if job is None:
        return None
    try:
        value = read_pairs(job.model_star, "model_general").get("rlnReferenceDimensionality")
    except CryoDiscoveryError:
        return None
    return int(value) if str(value) in ("2", "3") else None


class CryoDiscoverySelectJob(CryoDiscoveryJob):
    """``cryodiscovery.select.class_averages``: runs ``cryodiscovery_select`` on a Class2D/Class3D job."""

    PROCESS_NAME = "cryodiscovery.select.class_averages"

    def __init__(self) -> None:
        super().__init__()
        self.jobinfo.display_name = "CryoDiscovery automatic 2D/3D class selection"
        self.jobinfo.short_desc = "Select good 2D or 3D classes with a boosted CNN ensemble"
        self.jobinfo.long_desc = (
            "Scores every class of a RELION Class2D or Class3D job with CryoDiscovery's calibrated CNN"
            " ensemble (class images plus RELION's per-class statistics) and keeps the classes whose P(good)"
            " reaches the threshold. Writes particles.star (the selected classes' particles, every column),"
            " class_averages.star (2D), rank_optimiser.star (all classes with their score, for an interactive"
            " Select), the selected maps (3D), a score table and a montage. The same program as the RELION"
            " External job (cryodiscovery_select)."
        )
        self.runs("cryodiscovery_select")

        self.joboptions["fn_model"] = InputNodeJobOption(
            label="Select classes from optimiser.star:",
            node_type=NODE_OPTIMISERDATA,
            node_kwds=["relion", "class2d"],
            default_value="",
            pattern=FileDescription("Optimiser STAR file", EXT_RELION_OPT),
            help_text="The run_itNNN_optimiser.star of a RELION Class2D/Class3D job (usually the last one).",
            deactivate_if=JobOptionCondition([("fn_data", "!=", "")]),
        )
        self.joboptions["fn_data"] = InputNodeJobOption(
            label="OR select from the job's data.star:",
            node_type=NODE_PARTICLEGROUPMETADATA,
            node_kwds=["relion", "class2d"],
            default_value="",
            pattern=FileDescription("Class2D/Class3D particles STAR file", ["_data.star"]),
            help_text="The run_itNNN_data.star of a RELION Class2D/Class3D job (its _model.star beside it).",
            deactivate_if=JobOptionCondition([("fn_model", "!=", "")]),
        )
        self.joboptions["min_score"] = FloatJobOption(
            label="Minimum score (P(good)):",
            default_value=None,
            hard_min=0.0,
            hard_max=1.0,
            step_value=0.05,
            help_text=f"Leave blank for the model's calibrated threshold; {PARAMETER_HELP['min_score']}.",
        )
        self.joboptions["strictness"] = MultipleChoiceJobOption(
            label="Strictness:",
            choices=list(STRICTNESS_LEVELS),
            default_value_index=1,
            help_text=f"{PARAMETER_HELP['strictness']}. Ignored when a minimum score is given.",
        )
        self.joboptions["contrast"] = MultipleChoiceJobOption(
            label="Contrast:",
            choices=list(CONTRAST_CHOICES),
            default_value_index=0,
            help_text=PARAMETER_HELP["contrast"],
        )
        self.joboptions["min_particles"] = IntJobOption(
            label="Minimum particles per class:",
            default_value=0,
            hard_min=0,
            step_value=1,
            help_text=PARAMETER_HELP["min_particles"],
        )
        self.joboptions["min_classes"] = IntJobOption(
            label="Keep at least this many classes:",
            default_value=0,
            hard_min=0,
            step_value=1,
            help_text=PARAMETER_HELP["min_classes"],
        )
        self.model_option(
            "model", "CryoDiscovery model (model_card.json):",
            f"Blank = the shipped model. Otherwise the {MODEL_CARD} of a model directory, e.g. the output"
            " of a cryodiscovery.select.class_averages.train job.",
        )
        self.gpus_option()
        self.joboptions["batch_size"] = IntJobOption(
            label="Batch size:",
            default_value=256,
            hard_min=1,
            hard_max=65536,
            help_text=PARAMETER_HELP["batch_size"],
        )
        self.joboptions["groups"] = StringJobOption(
            label="Group the kept classes (0 = no, N, auto):",
            default_value="0",
            help_text=f"{PARAMETER_HELP['groups']}. Each group's particles.star is an output node after the run.",
        )
        self.joboptions["montage"] = BooleanJobOption(
            label="Write the class montage?",
            default_value=True,
            help_text=f"{MONTAGE_FILE}: every class with its score and decision (shown in the results).",
        )
        self.get_runtab_options(mpi=False, threads=True, addtl_args=True)
        self.set_joboption_order(
            ["fn_model", "fn_data", "strictness", "min_score", "contrast", "min_particles", "min_classes", "model", "gpus",
             "batch_size", "groups", "montage"]
        )

    def input_file(self) -> str:
        """The chosen optimiser.star or data.star."""
        return self.joboptions["fn_model"].get_string() or self.joboptions["fn_data"].get_string()

    def additional_joboption_validation(self) -> List[JobOptionValidationResult]:
        chosen = [key for key in ("fn_model", "fn_data") if self.joboptions[key].value]
        inputs = [self.joboptions["fn_model"], self.joboptions["fn_data"]]
        if not chosen:
            message = "choose the Class2D/Class3D optimiser.star or data.star"
            return [JobOptionValidationResult("error", inputs, message)]
        if len(chosen) > 1:
            message = "choose either an optimiser.star or a data.star"
            return [JobOptionValidationResult("error", inputs, message)]
        return self.model_card_validation("model") + self.groups_validation()

    def groups_validation(self) -> List[JobOptionValidationResult]:
        """``groups`` checked as the command checks it."""
        try:
            JobParameters(groups=self.joboptions["groups"].get_string().strip() or 0).validate()
        except CryoDiscoveryError as error:
            return [JobOptionValidationResult("error", [self.joboptions["groups"]], error.problem)]
        return []

    def dimensionality(self) -> Optional[int]:
        """2 or 3: from the input job's model.star, else from the input node's keywords."""
        found = reference_dimensionality(input_job(self.input_file()))
        if found is None:
            for node in self.input_nodes:
                if node.name == self.input_file():
                    found = 3 if "class3d" in node.kwds else 2 if "class2d" in node.kwds else None
        return found

    def create_output_nodes(self) -> None:
        """The nodes known at scheduling: particles.star; class_averages.star when the input is 2D;
        rank_optimiser.star when the input job has an optimiser.star (our command then writes it)."""
        names = ["particles.star"]
        if self.dimensionality() == 2:
            names.append("class_averages.star")
        job = input_job(self.input_file())
        if job is not None and job.optimiser_star is not None:
            names.append("rank_optimiser.star")
        for name in names:
            self.add_output_node(name, *SELECT_NODE_TYPES[name])

    def create_post_run_output_nodes(self) -> None:
        """Every node our command declared in RELION_OUTPUT_NODES.star (5.0 labels): this adds what
        was not known at scheduling (3D maps; 2D outputs of an input that was not readable then).
        The pipeline keeps an already recorded node as it is; the types above are used for the files
        declared at scheduling, so both records agree."""
        known = {node.name for node in self.output_nodes}
        for name, label in nodes_declared(Path(self.output_dir) / NODES_FILE):
            relative = name[len(self.output_dir):] if name.startswith(self.output_dir) else ""
            parts = label.split(".")
            if not relative or name in known:
                continue
            if relative in SELECT_NODE_TYPES:
                self.add_output_node(relative, *SELECT_NODE_TYPES[relative])
            elif parts[0] in NODE_CLASSES:
                self.add_output_node(relative, parts[0], parts[2:])

    def get_commands(self) -> List[PipelinerCommand]:
        command: List[Union[str, int, float]] = [
            self.jobinfo.programs[0].command, "--o", self.output_dir, "--in_parts", self.input_file(),
            "--relion_version", RELION_VERSION,
        ]
        if not self.joboptions["min_score"].is_blank:
            command += ["--min_score", self.joboptions["min_score"].get_number()]
        for key in ("strictness", "contrast"):
            command += [f"--{key}", self.joboptions[key].get_string()]
        for key in ("min_particles", "min_classes", "batch_size"):
            command += [f"--{key}", int(self.joboptions[key].get_number())]
        model_card = self.joboptions["model"].get_string()
        if model_card:
            command += ["--model", os.path.dirname(model_card) or "."]
        gpus = self.joboptions["gpus"].get_string().strip()
        if gpus:
            command += ["--gpus", gpus]
        groups = self.joboptions["groups"].get_string().strip()
        if groups not in ("", "0"):
            command += ["--groups", groups]
        command += ["--montage", "yes" if self.joboptions["montage"].get_boolean() else "no"]
        command += ["--j", self.get_nr_threads()]
        command += self.parse_additional_args()
        return self.get_program_version_commands() + [PipelinerCommand(command)]

    def gather_metadata(self) -> Metadata:
        return select_metadata(self.output_dir)

    def create_results_display(self) -> Sequence[ResultsDisplayObject]:
        return select_results_display(self.output_dir)
