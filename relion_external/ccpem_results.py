"""What the CCP-EM pipeliner jobs report once they have run, read from the files our commands wrote.

The output nodes the select command declared (``RELION_OUTPUT_NODES.star``), the select job's metadata
report (``pipeliner --metadata_report``) and the results display Doppio shows
(``pipeliner.regenerate_results``: the montage, the score table, the selected class averages and the
provenance); the train job's display, its model card. :mod:`relion_external.ccpem_select_job` and
:mod:`relion_external.ccpem_train_job` define the jobs and call these; nothing here runs a command.
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

from pipeliner.display_tools import create_results_display_object, mini_montage_from_starfile
from pipeliner.results_display_objects import ResultsDisplayObject

from relion_cryodiscovery.pipeline.writing import MONTAGE_FILE, SCORES_CSV, SCORES_JSON
from relion_cryodiscovery.relion.star import find_table, scan_particles

Metadata = Dict[str, Union[int, float, str, bool, dict, list, None]]


def read_scores(path: str) -> Tuple[Dict[str, str], List[Dict[str, str]]]:
    """The provenance (``cryodiscovery_scores.json`` beside ``path``; {} if missing) and the rows of
    ``cryodiscovery_scores.csv`` at ``path``."""
    provenance_file = Path(path).with_name(SCORES_JSON)
    provenance: Dict[str, str] = {}
    if provenance_file.is_file():
        provenance = json.loads(provenance_file.read_text())["provenance"]
    with open(path, newline="") as handle:
        return provenance, list(csv.DictReader(handle))


def nodes_declared(nodes_file: Path) -> List[Tuple[str, str]]:
    """(name, type label) rows of the ``RELION_OUTPUT_NODES.star`` our command wrote ([] if none)."""
    if not nodes_file.is_file():
        return []
    table = find_table(nodes_file, "output_nodes", ("rlnPipeLineNodeName", "rlnPipeLineNodeTypeLabel"))
    return [(str(name), str(label)) for name, label in
            zip(table["rlnPipeLineNodeName"], table["rlnPipeLineNodeTypeLabel"])]


def select_metadata(output_dir: str) -> Metadata:
    """The select job's metadata report: classes, selected classes and particles, threshold, model."""
    provenance, rows = read_scores(os.path.join(output_dir, SCORES_CSV))
    particles = os.path.join(output_dir, "particles.star")
    threshold = re.search(r"(?:^| )min_score=(\S+)", provenance.get("parameters", ""))
    metadata: Metadata = {
        "NumberOfClasses": len(rows),
        "NumberOfSelectedClasses": sum(row["selected"] == "1" for row in rows),
        "NumberOfSelectedParticles": len(scan_particles(particles).class_numbers),
        "ScoreThreshold": float(threshold.group(1)) if threshold else None,
        "ModelVersion": provenance.get("model_version"),
    }
    if "domain_check" in provenance:
        metadata["DomainCheck"] = provenance["domain_check"]
    return metadata


def select_results_display(output_dir: str) -> Sequence[ResultsDisplayObject]:
    """The select job's results: the montage, the score table, the selected class averages, the provenance."""
    scores_file = os.path.join(output_dir, SCORES_CSV)
    provenance, rows = read_scores(scores_file)
    displays: List[ResultsDisplayObject] = []
    montage = os.path.join(output_dir, MONTAGE_FILE)
    if os.path.isfile(montage):
        displays.append(create_results_display_object(
            "image",
            title="CryoDiscovery: every class with its score (kept classes framed)",
            image_path=montage,
            image_desc=f"{sum(row['selected'] == '1' for row in rows)} of {len(rows)} classes kept",
            associated_data=[scores_file],
        ))
    headers = ["Class", "Score", "Kept", "Particles", "Reason"]
    table = [[row["class_number"], f"{float(row['score']):.3f}", {"1": "yes"}.get(row["selected"], "no"),
              row["particles"], row["reason"]] for row in rows]
    displays.append(create_results_display_object(
        "table", title="Class scores (calibrated P(good))", headers=headers, table_data=table,
        associated_data=[scores_file],
    ))
    class_averages = os.path.join(output_dir, "class_averages.star")
    if os.path.isfile(class_averages):
        score_of = {row["class_number"]: float(row["score"]) for row in rows}
        kept = [row["class_number"] for row in rows if row["selected"] == "1"]
        displays.append(mini_montage_from_starfile(
            starfile=class_averages, block="", column="_rlnReferenceImage", outputdir=output_dir,
            title="Selected class averages", nimg=-1,
            labels=[f"Class {number}: {score_of[number]:.2f}" for number in kept],
        ))
    displays.append(create_results_display_object(
        "text", title="Model, threshold and input", display_data="\n".join(
            f"{key}: {value}" for key, value in provenance.items()), associated_data=[scores_file],
    ))
    return displays


def train_results_display(card_file: str) -> Sequence[ResultsDisplayObject]:
    """The train job's result: its model card as a table (version, threshold, validation and test metrics)."""
    with open(card_file) as handle:
        card = json.load(handle)
    rows = [["model_version", str(card["model_version"])], ["threshold", f"{card['threshold']:.3f}"],
            ["threshold_rule", str(card["threshold_rule"])], ["validation ECE", f"{card['ece']:.3f}"]]
    rows += [[f"validation {key}", f"{value:.3f}" if isinstance(value, float) else str(value)]
             for key, value in card["validation_metrics"].items() if not isinstance(value, (list, dict))]
    rows += [[f"held-out test {key}", f"{value:.3f}" if isinstance(value, float) else str(value)]
             for key, value in card.get("extra", {}).get("test_metrics", {}).items()
             if not isinstance(value, (list, dict))]
    return [create_results_display_object(
        "table", title="Trained model (model_card.json)", headers=["Property", "Value"], table_data=rows,
        associated_data=[card_file],
    )]
