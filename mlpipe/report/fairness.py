"""The fairness part of a report: the FairnessGate's `fairness.json` of a run, found and read
(shown by core.captions.fairness_lines and core.html.fairness_section).

Every number is the gate's own (see mlpipe/components/fairness_gate): each slice of each
sensitive feature with its rate, the overall rate, the gap, the bound, the margin, and whether it
was judged (a slice under `min_slice_size` examples, or whose rate is undefined, is shown and not
judged). A run without a fairness section has no gate and shows none of this.
"""

from typing import Optional, Tuple

from mlpipe.core import lineage
from mlpipe.errors import BadInputError

# Mirrors mlpipe.components.fairness_gate (NODE_ID, output keys): the loader reads ML Metadata
# without importing TFX's component modules.
NODE_ID = "FairnessGate"
BLESSING_KEY = "blessing"
FAIRNESS_KEY = "fairness"


def gate_outputs(store, nodes) -> Tuple[Optional[object], Optional[str]]:
    """(the gate's ModelBlessing, the URI of its fairness artifact) in one run, or (None, None)
    when the run has no FairnessGate execution."""
    execution = nodes.get(NODE_ID)
    if execution is None:
        return None, None
    outputs = lineage.outputs_of(store, execution.id)
    fairness = outputs.get(FAIRNESS_KEY)
    return outputs.get(BLESSING_KEY), fairness.uri if fairness else None


def load_fairness(uri: Optional[str]) -> dict:
    """The gate's fairness.json, or {} for a run without a gate."""
    if not uri:
        return {}
    from mlpipe.components.fairness_gate import read_fairness  # imports TFX: only when needed
    try:
        return read_fairness(uri)
    except (OSError, ValueError) as error:
        raise BadInputError(f"{uri}: cannot read the fairness checks "
                            f"({type(error).__name__}: {error})") from error
