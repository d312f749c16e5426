"""DriftGate: stops a run whose span drifted from the previous span beyond the config's
thresholds (`mlpipe.core.drift`: PSI for numbers, L-infinity for strings), unless told to
accept it."""

from mlpipe.components.drift_gate.component import DriftGate
from mlpipe.components.drift_gate.executor import (DataDriftError, judge, measure, read_report,
                                                   summary)
from mlpipe.components.drift_gate.spec import (ACCEPTED_PROPERTY, BASELINE_KEY,
                                               DRIFTED_PROPERTY, NO_SPAN, NODE_ID,
                                               PREVIOUS_SPAN_PROPERTY, REPORT_FILE, REPORT_KEY,
                                               SPAN_PROPERTY, ComparedDrift,
                                               DriftReportArtifact, spec_json)

__all__ = ["ACCEPTED_PROPERTY", "BASELINE_KEY", "DRIFTED_PROPERTY", "NO_SPAN", "NODE_ID",
           "PREVIOUS_SPAN_PROPERTY", "REPORT_FILE", "REPORT_KEY", "SPAN_PROPERTY",
           "ComparedDrift", "DataDriftError", "DriftGate", "DriftReportArtifact", "judge",
           "measure", "read_report", "spec_json", "summary"]
