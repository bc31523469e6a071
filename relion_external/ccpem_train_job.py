"""The CCP-EM pipeliner job ``cryodiscovery.select.class_averages.train``: ``cryodiscovery_train`` on the
project's own RELION Select jobs (and/or a CSV manifest of labelled jobs).

Its ``model/model_card.json`` output node is the ``model`` input of
:class:`relion_external.ccpem_select_job.CryoDiscoverySelectJob`; after the run it shows the model card
(:func:`relion_external.ccpem_results.train_results_display`).
"""

from __future__ import annotations

import os
from typing import List, Sequence, Union

from pipeliner.job_options import (
    BooleanJobOption,
    ExternalFileJobOption,
    FileDescription,
    FloatJobOption,
    IntJobOption,
    JobOptionCondition,
    JobOptionValidationResult,
    StringJobOption,
)
from pipeliner.nodes import NODE_MLMODEL
from pipeliner.pipeliner_job import PipelinerCommand
from pipeliner.results_display_objects import ResultsDisplayObject

from .ccpem_job_base import MODEL_CARD, MODEL_KWDS, CryoDiscoveryJob
from .ccpem_results import train_results_display

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
        self.runs("cryodiscovery_train")
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
