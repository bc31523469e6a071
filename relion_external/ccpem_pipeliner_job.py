"""CryoDiscovery as jobs of the CCP-EM pipeliner (the Python pipeliner behind CCP-EM Doppio).

Install CryoDiscovery with its ``ccpem`` extra into the environment that runs the pipeliner::

    pip install -e ".[ccpem]"        # or: pip install "relion-cryodiscovery[ccpem]"

The package's entry points (group ``ccpem_pipeliner.jobs``) then register two job types, listed
by ``pipeliner --available_jobs select`` and shown in Doppio under "Automated Class Selection":

* ``cryodiscovery.select.class_averages`` (:class:`CryoDiscoverySelectJob`): score every class of a
  RELION Class2D/Class3D job and write the selection. Input: the job's ``run_itNNN_optimiser.star``
  (or its ``run_itNNN_data.star``). Outputs in ``CryoDiscovery/jobNNN/``: ``particles.star``,
  ``class_averages.star`` (2D), ``rank_optimiser.star``, the selected maps ``class_NNN.mrc`` (3D),
  ``particles_group_N.star`` (the kept classes grouped by structure, when asked),
  ``cryodiscovery_scores.csv``/``.star`` and ``cryodiscovery_montage.png``.
* ``cryodiscovery.select.class_averages.train`` (:class:`CryoDiscoveryTrainJob`): train or fine-tune
  the ensemble on the project's own RELION Select jobs; its ``model/model_card.json`` output node is
  the ``model`` input of the select job.

Command line::

    pipeliner --default_jobstar cryodiscovery.select.class_averages   # edit fn_model etc.
    pipeliner --run_job cryodiscovery_select_class_averages_job.star

Each job runs our existing command line (``cryodiscovery_select``, the RELION External-job
executable, and ``cryodiscovery_train``) by absolute path from this interpreter's ``bin``
directory, so it works even when that directory is not on ``PATH``; nothing is re-implemented here:
the input job's files are found and read with :mod:`relion_cryodiscovery.relion` (as the command
finds them), and what a job shows after its run is read by :mod:`relion_external.ccpem_results`.
This module is imported by every pipeliner command that lists jobs: it imports no TensorFlow
and does no work at import or in ``__init__``. See docs/ccpem_pipeliner.md.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from pipeliner.external_program_utils import ExternalProgram
from pipeliner.job_options import (
    EXT_RELION_OPT,
    BooleanJobOption,
    ExternalFileJobOption,
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
    NODE_MLMODEL,
    NODE_OPTIMISERDATA,
    NODE_PARTICLEGROUPMETADATA,
)
from pipeliner.pipeliner_job import PipelinerCommand, PipelinerJob
from pipeliner.results_display_objects import ResultsDisplayObject

from relion_cryodiscovery.version import __version__
from relion_cryodiscovery.cli.external_args import PARAMETER_HELP
from relion_cryodiscovery.data.polarity import CONTRAST_CHOICES
from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.model.card import STRICTNESS_LEVELS
from relion_cryodiscovery.pipeline.parameters import JobParameters
from relion_cryodiscovery.pipeline.writing import MONTAGE_FILE
from relion_cryodiscovery.relion.job import ClassificationJob, locate_job
from relion_cryodiscovery.relion.nodes import NODES_FILE
from relion_cryodiscovery.relion.star import read_pairs

from .ccpem_results import (Metadata, nodes_declared, select_metadata, select_results_display,
                            train_results_display)

#: RELION_OUTPUT_NODES.star labels are written for this version: RELION 5.0's labels are the
#: CCP-EM pipeliner's node types (tests/test_ccpem_pipeliner.py checks it).
RELION_VERSION = "5.0"
MODEL_CARD = "model_card.json"
#: Keywords of the model node a train job writes and a select job reads.
MODEL_KWDS = ["cryodiscovery"]
#: Node types of the select job's fixed outputs (those of RELION's own automatic 2D selection job).
SELECT_NODE_TYPES: Dict[str, tuple[str, List[str]]] = {
    "particles.star": (NODE_PARTICLEGROUPMETADATA, ["relion"]),
    "class_averages.star": (NODE_IMAGE2DGROUPMETADATA, ["relion", "classaverages"]),
    "rank_optimiser.star": (NODE_OPTIMISERDATA, ["relion", "autoselect"]),
}


def executable(name: str) -> str:
    """``name`` in this interpreter's scripts directory (where pip put our console scripts), else
    ``name`` itself (then looked up on PATH)."""
    candidate = Path(sysconfig.get_path("scripts")) / name
    return str(candidate) if os.access(candidate, os.X_OK) else name


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
        self.jobinfo.programs = [
            ExternalProgram(
                command=executable("cryodiscovery_select"),
                name="relion_cryodiscovery",
                vers_com=[executable("relion_cryodiscovery"), "--version"],
            )
        ]

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


class CryoDiscoveryTrainJob(CryoDiscoveryJob):
    """``cryodiscovery.select.class_averages.train``: ``cryodiscovery_train`` on the project's Select jobs."""

    PROCESS_NAME = "cryodiscovery.select.class_averages.train"
    MODEL_DIR = "model"

    def __init__(self) -> None:
        super().__init__()
        self.jobinfo.display_name = "Train a CryoDiscovery class-selection model"
        self.jobinfo.short_desc = "Train or fine-tune the CryoDiscovery ensemble on your own Select jobs"
        self.jobinfo.long_desc = (
            "Learns from RELION Select jobs (interactive 2D/3D class selections) that took a Class2D/Class3D"
            " job as input: every such job in this project and/or the pairs listed in a CSV manifest (columns"
            " job,selection[,group]). Validation and test classes are held out by job, so at least two"
            " labelled jobs are needed. Writes a complete model directory (model/), whose model_card.json is"
            " the 'model' input of cryodiscovery.select.class_averages."
        )
        self.jobinfo.programs = [
            ExternalProgram(
                command=executable("cryodiscovery_train"),
                name="relion_cryodiscovery",
                vers_com=[executable("relion_cryodiscovery"), "--version"],
            )
        ]
        self.joboptions["do_project"] = BooleanJobOption(
            label="Learn from this project's Select jobs?",
            default_value=True,
            help_text="Every Select job in this project whose input was a Class2D/Class3D job is used.",
        )
        self.joboptions["fn_manifest"] = ExternalFileJobOption(
            label="AND/OR a CSV manifest of labelled jobs:",
            default_value="",
            pattern=FileDescription("CSV manifest", [".csv"]),
            help_text="Columns job,selection[,group]; paths relative to the manifest.",
        )
        self.joboptions["do_finetune"] = BooleanJobOption(
            label="Fine-tune an existing model?",
            default_value=False,
            help_text="Yes: start from a model (blank below = the shipped one) with a smaller learning rate.",
        )
        self.model_option("init_model", "Model to fine-tune (model_card.json):",
                          f"Blank = the shipped model; or the {MODEL_CARD} of another model directory.",
                          deactivate_if=JobOptionCondition([("do_finetune", "=", False)]))
        self.joboptions["epochs"] = IntJobOption(
            label="Maximum epochs per ensemble member:", default_value=40, hard_min=1,
            help_text="Early stopping ends training sooner when validation stops improving.",
        )
        self.joboptions["batch_size"] = IntJobOption(label="Batch size:", default_value=64, hard_min=1)
        self.joboptions["learning_rate"] = FloatJobOption(
            label="Learning rate:", default_value=None, hard_min=0.0,
            help_text="Blank = 1e-3 (fine-tuning: the network's default / 10).",
        )
        self.joboptions["val_fraction"] = FloatJobOption(
            label="Validation fraction (by job):", default_value=0.15, hard_min=0.0, hard_max=0.9)
        self.joboptions["test_fraction"] = FloatJobOption(
            label="Test fraction (by job):", default_value=0.15, hard_min=0.0, hard_max=0.9)
        self.joboptions["seed"] = IntJobOption(label="Random seed:", default_value=0, hard_min=0)
        self.joboptions["model_version"] = StringJobOption(
            label="Model version name:", default_value="custom", help_text="Written into the model card.")
        self.gpus_option()
        self.get_runtab_options(mpi=False, threads=False, addtl_args=True)

    def additional_joboption_validation(self) -> List[JobOptionValidationResult]:
        errors = self.model_card_validation("init_model")
        if not self.joboptions["do_project"].get_boolean() and not self.joboptions["fn_manifest"].value:
            errors.append(JobOptionValidationResult(
                "error", [self.joboptions["do_project"], self.joboptions["fn_manifest"]],
                "no training data: learn from this project's Select jobs and/or give a manifest",
            ))
        return errors

    def create_output_nodes(self) -> None:
        self.add_output_node(f"{self.MODEL_DIR}/{MODEL_CARD}", NODE_MLMODEL, MODEL_KWDS)

    def get_commands(self) -> List[PipelinerCommand]:
        command: List[Union[str, int, float]] = [
            self.jobinfo.programs[0].command, "--o", os.path.join(self.output_dir, self.MODEL_DIR), "--quiet"]
        if self.joboptions["do_project"].get_boolean():
            command += ["--project", "."]
        manifest = self.joboptions["fn_manifest"].get_string()
        if manifest:
            command += ["--manifest", manifest]
        if self.joboptions["do_finetune"].get_boolean():
            init_card = self.joboptions["init_model"].get_string()
            command += ["--init_from", os.path.dirname(init_card) if init_card else "default"]
        command += ["--epochs", int(self.joboptions["epochs"].get_number()),
                    "--batch_size", int(self.joboptions["batch_size"].get_number()),
                    "--val_fraction", self.joboptions["val_fraction"].get_number(),
                    "--test_fraction", self.joboptions["test_fraction"].get_number(),
                    "--seed", int(self.joboptions["seed"].get_number()),
                    "--model_version", self.joboptions["model_version"].get_string()]
        if not self.joboptions["learning_rate"].is_blank:
            command += ["--learning_rate", self.joboptions["learning_rate"].get_number()]
        gpus = self.joboptions["gpus"].get_string().strip()
        if gpus:
            command += ["--gpus", gpus]
        command += self.parse_additional_args()
        return self.get_program_version_commands() + [PipelinerCommand(command)]

    def create_results_display(self) -> Sequence[ResultsDisplayObject]:
        return train_results_display(os.path.join(self.output_dir, self.MODEL_DIR, MODEL_CARD))
