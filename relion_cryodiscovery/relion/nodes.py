"""``RELION_OUTPUT_NODES.star`` and which RELION version runs the job.

RELION 3.1 reads the integer ``_rlnPipeLineNodeType``; 4.0 and 5.0 read only the string
``_rlnPipeLineNodeTypeLabel``, and 4.0 and 5.0 use different top-level words. We write all
three columns, with labels for the detected version, so the file also works if a project is
opened by another version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..errors import CryoDiscoveryError

NODES_FILE = "RELION_OUTPUT_NODES.star"
VERSIONS = ("3.1", "4.0", "5.0")

#: kind -> (3.1 integer type, 4.0 label, 5.0 label)
NODE_TYPES: dict[str, tuple[int, str, str]] = {
    "particles": (3, "ParticlesData.star.relion", "ParticleGroupMetadata.star.relion"),
    "class_averages": (5, "ImagesData.star.relion.classaverages", "Image2DGroupMetadata.star.relion.classaverages"),
    "rank_model": (8, "ProcessData.star.relion.optimiser.autoselect", "OptimiserData.star.relion.select"),
    "rank_optimiser": (8, "ProcessData.star.relion.optimiser.autoselect", "OptimiserData.star.relion.select"),
    "map": (6, "DensityMap.mrc", "DensityMap.mrc"),
}


@dataclass(frozen=True)
class OutputNode:
    name: str
    kind: str

    def type_number(self) -> int:
        return NODE_TYPES[self.kind][0]

    def type_label(self, version: str) -> str:
        return NODE_TYPES[self.kind][2 if version == "5.0" else 1]


def nodes_for_version(nodes: list[OutputNode], version: str) -> list[OutputNode]:
    """The nodes one version should see: 3.1 selects from a model.star, 4.0/5.0 from an optimiser."""
    hidden = "rank_optimiser" if version == "3.1" else "rank_model"
    return [node for node in nodes if node.kind != hidden]


def _version_of_star(path: Path) -> str | None:
    text = path.read_text(errors="replace")
    if re.search(r"^_rlnJobType\s+\d+", text, re.M) or re.search(r"^_rlnPipeLineNodeType\s", text, re.M):
        return "3.1"
    if "_rlnJobTypeLabel" in text or "_rlnPipeLineNodeTypeLabel" in text:
        return "5.0" if re.search(r"^# version 5\d{4}", text, re.M) else "4.0"
    return None


def detect_relion_version(job_dir: Path, project_dir: Path = Path(".")) -> str | None:
    """The RELION version that runs this job, from its ``job.star`` (else the project pipeline)."""
    for candidate in (job_dir / "job.star", project_dir / "default_pipeline.star"):
        if candidate.is_file():
            found = _version_of_star(candidate)
            if found:
                return found
    return None


def version_conflict(forced: str, job_dir: Path) -> str | None:
    """A warning when a forced ``relion_version`` contradicts the project's own files (None if they agree).

    RELION files each output node under the type our labels name; 4.0's labels in a 5.0 project put
    the particles under a type RELION 5.0 does not offer to the next job's input."""
    detected = detect_relion_version(job_dir)
    if detected is None or detected == forced:
        return None
    return (f"relion_version {forced} contradicts this project's job.star / default_pipeline.star (RELION "
            f"{detected}): the outputs will be filed under {forced}'s node types, which RELION {detected} "
            f"may not offer to the next job; use relion_version auto or {detected}")


def choose_version(requested: str, job_dir: Path) -> tuple[str, str]:
    """(version, how it was chosen) for ``relion_version`` = auto / 3.1 / 4.0 / 5.0."""
    normalised = {"3": "3.1", "3.1": "3.1", "4": "4.0", "4.0": "4.0", "5": "5.0", "5.0": "5.0"}.get(requested)
    if normalised:
        return normalised, "set by parameter relion_version"
    if requested != "auto":
        raise CryoDiscoveryError(None, f"relion_version must be auto, 3.1, 4.0 or 5.0, not {requested!r}")
    detected = detect_relion_version(job_dir)
    if detected:
        return detected, "detected from job.star / default_pipeline.star"
    return "5.0", "not detectable (no job.star); using 5.0 labels, integer types for 3.1 are written too"


def write_nodes(out: TextIO, nodes: list[OutputNode], version: str) -> None:
    """The nodes table: name, 3.1 integer type and 4.0/5.0 label, no blank line inside the loop."""
    if not nodes:
        raise CryoDiscoveryError(None, "no output nodes to declare")
    header = "50001" if version == "5.0" else "30001"
    out.write(f"\n# version {header}\n\ndata_output_nodes\n\nloop_ \n")
    out.write("_rlnPipeLineNodeName #1 \n_rlnPipeLineNodeType #2 \n_rlnPipeLineNodeTypeLabel #3 \n")
    for node in nodes_for_version(nodes, version):
        out.write(f"{node.name} {node.type_number()} {node.type_label(version)} \n")
    out.write("\n")
