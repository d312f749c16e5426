"""FairnessGate: the Evaluator's blessing, withdrawn when a large enough slice of a sensitive
feature breaks a fairness bound (rate metrics per slice, and their gap to the overall value)."""

from mlpipe.components.fairness_gate.component import (BLESSING_KEY, FAIRNESS_KEY, NODE_ID,
                                                       FairnessChecksArtifact, FairnessGate,
                                                       spec_json)
from mlpipe.components.fairness_gate.executor import (FAIRNESS_FILE, describe_bound,
                                                      failure_summary, judge, read_fairness)

__all__ = ["BLESSING_KEY", "FAIRNESS_FILE", "FAIRNESS_KEY", "NODE_ID", "FairnessChecksArtifact",
           "FairnessGate", "describe_bound", "failure_summary", "judge", "read_fairness",
           "spec_json"]
