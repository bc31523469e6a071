"""The parameters of a select or score run: one dataclass, the External tab's Params, with their checks.

Every entry point (the External job's command line, ``relion_cryodiscovery select``/``score``, the
library's :func:`relion_cryodiscovery.select`/:func:`~relion_cryodiscovery.score` and the CCP-EM
pipeliner job) builds a :class:`JobParameters`; the rest of the pipeline reads only this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..data.grouping import AUTO
from ..data.polarity import CONTRAST_CHOICES
from ..errors import CryoDiscoveryError
from ..model.card import STRICTNESS_LEVELS
from ..selection import SelectionRule

#: The most groups ``groups`` may ask for (one particles_group_N.star each).
MAX_GROUPS = 50


@dataclass
class JobParameters:
    """Parameters of a select or score run (the External tab's Params)."""

    #: Minimum calibrated P(good), an absolute override of ``strictness``; None = the model's operating point.
    min_score: float | None = None
    #: "lenient", "balanced" or "strict": the model's operating point (balanced and strict with the job-relative bar).
    strictness: str = "balanced"
    #: "auto" (detect inverted contrast per job), "normal" or "inverted" (force the input's polarity).
    contrast: str = "auto"
    #: Classes with fewer particles are not selected.
    min_particles: int = 0
    #: At least this many best-scoring classes are kept, even below ``min_score``.
    min_classes: int = 0
    #: Model directory; None = the shipped default.
    model: str | None = None
    #: "" = all visible GPUs, "cpu" = none, "0,1" = these.
    gpus: str = ""
    #: Classes per inference batch.
    batch_size: int = 256
    #: "auto", "3.1", "4.0" or "5.0": which output-node labels to write.
    relion_version: str = "auto"
    #: TensorFlow CPU threads (RELION's ``--j``); None = TensorFlow's default.
    threads: int | None = None
    #: Write ``cryodiscovery_montage.png``.
    montage: bool = True
    #: Pixel size for a bare stack (score only).
    angpix: float | None = None
    #: Group the kept 2D classes by structure (a mixture): 0 = no, N groups, or "auto"
    #: (:mod:`relion_cryodiscovery.data.grouping`); a select run writes particles_group_N.star per group.
    groups: int | str = 0
    #: External-job labels this version does not know (reported, ignored).
    unknown: dict[str, str] = field(default_factory=dict)

    @property
    def grouping(self) -> int | str | None:
        """``groups`` as the grouping takes it: None (off), a number of groups, or ``"auto"``."""
        value = str(self.groups).strip().lower()
        if value == AUTO:
            return AUTO
        return (int(value) or None) if value.isdigit() else None

    def validate(self) -> None:
        """Raise :class:`CryoDiscoveryError` naming the first parameter out of range."""
        if self.batch_size < 1 or self.batch_size > 65536:
            raise CryoDiscoveryError(None, f"batch_size must be between 1 and 65536, not {self.batch_size}")
        if self.threads is not None and not 1 <= self.threads <= 1024:
            raise CryoDiscoveryError(None, f"--j must be between 1 and 1024, not {self.threads}")
        if self.angpix is not None and not 0.05 <= self.angpix <= 100:
            raise CryoDiscoveryError(None, f"angpix must be a pixel size in Angstrom (0.05-100), not {self.angpix}")
        if self.strictness not in STRICTNESS_LEVELS:
            raise CryoDiscoveryError(None, f"strictness must be one of {', '.join(STRICTNESS_LEVELS)}, not {self.strictness!r}")
        if self.contrast not in CONTRAST_CHOICES:
            raise CryoDiscoveryError(None, f"contrast must be one of {', '.join(CONTRAST_CHOICES)}, not {self.contrast!r}")
        value = str(self.groups).strip().lower()
        if value != AUTO and not (value.isdigit() and int(value) <= MAX_GROUPS):
            raise CryoDiscoveryError(None, f"groups must be 0 (off), a number of groups up to {MAX_GROUPS} or auto, "
                                           f"not {self.groups!r}")
        SelectionRule(self.min_score if self.min_score is not None else 0.5, self.min_particles, self.min_classes).validate()
