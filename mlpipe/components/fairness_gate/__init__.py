"""FairnessGate: the Evaluator's blessing, withdrawn when a large enough slice of a sensitive
feature breaks a fairness bound (rate metrics per slice, and their gap to the overall value)."""

from mlpipe.components.fairness_gate.component import FairnessGate
from mlpipe.components.fairness_gate.executor import (describe_bound, failure_summary, judge,
                                                      read_fairness)
from mlpipe.components.fairness_gate.spec import (BLESSING_KEY, FAIRNESS_FILE, FAIRNESS_KEY,
                                                  NODE_ID, FairnessChecksArtifact,
                                                  JudgedFairness, spec_json)

__all__ = ["BLESSING_KEY", "FAIRNESS_FILE", "FAIRNESS_KEY", "NODE_ID", "FairnessChecksArtifact",
           "FairnessGate", "JudgedFairness", "describe_bound", "failure_summary", "judge",
           "read_fairness", "spec_json"]
