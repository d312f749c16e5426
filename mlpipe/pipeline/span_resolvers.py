"""The local runner's span resolvers: the training window, and the DriftGate's baseline.

Both take the run's own Examples (the ExampleGen's output in this run) besides every artifact of
their kind in the pipeline's history: that makes them run after the ExampleGen, and anchors them
at the run's span, not at the newest span in the store, so `mlpipe run --span 1` (a backfill)
trains on span 1 and compares span 1 with what came before it.

- `SpanWindowStrategy`: the Examples of spans S-N+1 .. S (S: the run's span), one artifact per
  span (the run's own for S; for an earlier span, its newest: a span whose files were rewritten
  was ingested again), selected by TFX's own `SpanRangeStrategy` (a rolling range of N spans).
  TFX's strategy used alone would anchor the range at the newest span ingested so far and count
  every ingestion of a span.
- `PreviousSpanReportStrategy`: the DriftGate's report of the highest span below S (its newest).
  Only a span that passed the gate has a report.

They need the orchestrator to run Python against ML Metadata, which KFP v2 / Vertex AI do not:
there the window is refused (`mlpipe compile` with `data.window` > 1) and the gate's baseline
comes from TFX's LatestArtifactStrategy (`RunnerSettings.drift_baseline`).
"""

from typing import Dict, List, Optional

import ml_metadata as mlmd
from tfx import types
from tfx.dsl.components.common import resolver as resolver_lib
from tfx.dsl.input_resolution.strategies.span_range_strategy import SpanRangeStrategy
from tfx.proto import range_config_pb2

from mlpipe.components.drift_gate import SPAN_PROPERTY as REPORT_SPAN
from mlpipe.core.artifacts import span_of

CURRENT_KEY = "current"        # the run's own Examples
EXAMPLES_KEY = "examples"      # every Examples of the ExampleGen -> the window
REPORTS_KEY = "reports"        # every DriftReport of the DriftGate -> the baseline ([] or one)


class SpanWindowStrategy(resolver_lib.ResolverStrategy):

    def __init__(self, num_spans: int):
        self._num_spans = int(num_spans)

    def resolve_artifacts(self, store: mlmd.MetadataStore,
                          input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        current = input_dict.get(CURRENT_KEY, [])
        if not current:
            return None
        candidates = one_per_span(input_dict.get(EXAMPLES_KEY, []), current[0])
        window = SpanRangeStrategy(range_config_pb2.RangeConfig(
            rolling_range=range_config_pb2.RollingRange(num_spans=self._num_spans))
        ).resolve_artifacts(store, {EXAMPLES_KEY: candidates})
        return {CURRENT_KEY: current, EXAMPLES_KEY: window[EXAMPLES_KEY]}


def one_per_span(examples: List[types.Artifact], current: types.Artifact
                 ) -> List[types.Artifact]:
    """The run's own Examples and, for each earlier span, its newest Examples (highest id); no
    span after the run's."""
    span = span_of(current)
    newest: Dict[int, types.Artifact] = {}
    for artifact in sorted(examples, key=lambda a: a.id):
        if span_of(artifact) < span:
            newest[span_of(artifact)] = artifact
    newest[span] = current
    return [newest[key] for key in sorted(newest)]


class PreviousSpanReportStrategy(resolver_lib.ResolverStrategy):

    def resolve_artifacts(self, store: mlmd.MetadataStore,
                          input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        current = input_dict.get(CURRENT_KEY, [])
        if not current:
            return None
        return {CURRENT_KEY: current,
                REPORTS_KEY: previous_report(input_dict.get(REPORTS_KEY, []),
                                             span_of(current[0]))}


def previous_report(reports: List[types.Artifact], span: int) -> List[types.Artifact]:
    """[the newest report of the highest span below `span`], or []."""
    earlier = [report for report in reports
               if report.get_int_custom_property(REPORT_SPAN) < span]
    if not earlier:
        return []
    return [max(earlier, key=lambda r: (r.get_int_custom_property(REPORT_SPAN), r.id))]
