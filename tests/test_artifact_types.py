"""Every custom artifact type imports from its schema title, as a Kubeflow / Vertex AI step
recovers it (tfx.utils.import_utils on the title TFX compiles from TYPE_NAME)."""

import pytest
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration.kubeflow.v2 import compiler_utils
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as entrypoint
from tfx.utils import import_utils

from mlpipe.components.attributions.spec import FeatureAttributionsArtifact
from mlpipe.components.fairness_gate.spec import FairnessChecksArtifact
from mlpipe.components.model_card.spec import ModelCardArtifact


@pytest.mark.parametrize("artifact_type", [FeatureAttributionsArtifact, FairnessChecksArtifact,
                                           ModelCardArtifact])
def test_custom_artifact_type_imports_from_its_compiled_title(artifact_type):
    compiled = pipeline_spec_pb2.ArtifactTypeSchema(
        instance_schema=compiler_utils.get_artifact_schema(artifact_type))
    class_path = entrypoint._retrieve_class_path(compiled)  # what the step's entrypoint does
    assert import_utils.import_class_by_path(class_path) is artifact_type
