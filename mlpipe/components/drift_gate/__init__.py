"""DriftGate: stops a run whose span drifted from the previous span beyond the config's
thresholds (`mlpipe.core.drift`: PSI for numbers, L-infinity for strings), unless told to
accept it."""

from mlpipe.components.drift_gate.component import (BASELINE_KEY, NODE_ID, REPORT_KEY,
                                                    DriftGate, DriftReportArtifact, spec_json)
from mlpipe.components.drift_gate.executor import (ACCEPTED_PROPERTY, DRIFTED_PROPERTY,
                                                   NO_SPAN, PREVIOUS_SPAN_PROPERTY, REPORT_FILE,
                                                   SPAN_PROPERTY, DataDriftError, judge,
                                                   measure, read_report, summary)

__all__ = ["ACCEPTED_PROPERTY", "BASELINE_KEY", "DRIFTED_PROPERTY", "NO_SPAN", "NODE_ID",
           "PREVIOUS_SPAN_PROPERTY", "REPORT_FILE", "REPORT_KEY", "SPAN_PROPERTY",
           "DataDriftError", "DriftGate", "DriftReportArtifact", "judge", "measure",
           "read_report", "spec_json", "summary"]
