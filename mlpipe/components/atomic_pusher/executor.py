"""TFX's Pusher, made atomic on a local serving folder.

TFX's Pusher copies the model into `<serving>/<version>/` file by file (saved_model.pb last, and
that copy itself is not atomic): a run killed, or a disk filled, during the copy leaves a folder
that readers (`mlpipe serve`, which switches to the newest version; `RunHome.pushed_versions`)
take for a version. Here TFX's own Pusher copies into `<serving>/.incoming/`, and the finished
copy is renamed to `<serving>/<version>` (one rename on one filesystem: readers see no version or
a whole one). A push that fails (a full disk) removes its `.incoming/` copy; what a killed push
left there is removed by the next push (the run lock, `RunHome.run_lock`, means no other push is
under way). The version keeps TFX's number (the push time in seconds), the next free number when
that one exists.

On `gs://` (no atomic rename) this is TFX's Pusher unchanged: saved_model.pb, which TF Serving
takes as the sign of a complete version, lands last.
"""

import os
import shutil
from typing import Any, Dict, List

from absl import logging
from tfx.components.pusher import executor as tfx_pusher
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

INCOMING = ".incoming"
_DESTINATION = "pushed_destination"   # the custom properties TFX's Pusher sets on its output
_VERSION = "pushed_version"


class Executor(tfx_pusher.Executor):

    def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],  # noqa: N802
           exec_properties: Dict[str, Any]) -> None:
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY],
                                  destination)
        base = destination.filesystem.base_directory
        if destination.WhichOneof("destination") != "filesystem" or "://" in base:
            super().Do(input_dict, output_dict, exec_properties)
            return
        incoming = os.path.join(base, INCOMING)
        shutil.rmtree(incoming, ignore_errors=True)   # what a killed push left
        destination.filesystem.base_directory = incoming
        try:
            super().Do(input_dict, output_dict, dict(
                exec_properties,
                **{standard_component_specs.PUSH_DESTINATION_KEY:
                   proto_utils.proto_to_json(destination)}))
        except BaseException:
            # A failed copy (a full disk) leaves no partial folder behind; removing it also
            # gives the space back.
            shutil.rmtree(incoming, ignore_errors=True)
            raise
        pushed = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not pushed.get_int_custom_property("pushed"):
            return
        staged = pushed.get_string_custom_property(_DESTINATION)
        version = int(os.path.basename(staged))
        while os.path.exists(os.path.join(base, str(version))):
            version += 1
        final = os.path.join(base, str(version))
        os.rename(staged, final)
        shutil.rmtree(incoming, ignore_errors=True)
        pushed.set_string_custom_property(_DESTINATION, final)
        pushed.set_string_custom_property(_VERSION, str(version))
        logging.info("Model version %s complete at %s.", version, final)
