#!/bin/sh
# The pipeline image's entrypoint. A command (`python -m tfx...`, `mlpipe serve ...`) runs as
# given; no arguments, or only flags (how Dataflow starts its workers), start Beam's worker boot.
case "${1:-}" in
  "" | -*)
    if [ ! -x /opt/apache/beam/boot ]; then
      echo "mlpipe image: Beam's worker boot is not in this image (built without a Beam SDK" \
           "image as BEAM_IMAGE): it runs pipeline steps, not Dataflow workers" >&2
      exit 64
    fi
    exec /opt/apache/beam/boot "$@" ;;
  *)
    exec "$@" ;;
esac
