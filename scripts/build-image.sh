#!/usr/bin/env bash
# `make image`: builds the pipeline image (mlpipe/kubeflow/Dockerfile) and checks it.
#   IMAGE       the tag to build (default mlpipe:local)
#   BASE_IMAGE  the base (default: a local Debian base with the venv's Python 3.10, made by
#               scripts/make-base-image.sh, since no registry can be reached here)
#   BEAM_IMAGE  where Beam's worker boot comes from (default: the base; then no boot)
#   CA_BUNDLE   CA bundle handed to pip as a BuildKit secret (default: the host's, if any)
# Prints the build time and image size, then runs the smoke check inside the image against a
# freshly compiled pipeline (every module a compiled step names imports, every file it reads
# from the image exists).
set -euo pipefail
cd "$(dirname "$0")/.."
python310=${PYTHON310:?set PYTHON310}
image=${IMAGE:-mlpipe:local}
docker=$(scripts/docker-engine.sh | tail -n 1)
base=${BASE_IMAGE:-$(DOCKER=$docker scripts/make-base-image.sh "$python310" | tail -n 1)}
beam=${BEAM_IMAGE:-$base}
ca=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
secret=()
[ -s "$ca" ] && secret=(--secret "id=ca,src=$ca")
log=${BUILD_LOG:-build/image-build.log}
mkdir -p "$(dirname "$log")"
echo "Building $image on $base (log: $log)"
start=$(date +%s.%N)
DOCKER_BUILDKIT=1 "$docker" build --network host --progress plain -f mlpipe/kubeflow/Dockerfile \
	--build-arg "BASE_IMAGE=$base" --build-arg "BEAM_IMAGE=$beam" "${secret[@]}" \
	-t "$image" . > "$log" 2>&1 || { tail -n 40 "$log"; exit 1; }
end=$(date +%s.%N)
size=$("$docker" image inspect -f '{{.Size}}' "$image")
printf 'built %s in %.1f s, %.2f GB (%s layers reused)\n' "$image" "$(echo "$end - $start" | bc)" \
	"$(echo "$size / 1000000000" | bc -l)" "$(grep -c ' CACHED$' "$log" || true)"
exec "$docker" run --rm --network none -e TF_CPP_MIN_LOG_LEVEL=3 "$image" \
	python -m mlpipe.kubeflow.image_check
