#!/usr/bin/env bash
# One tick of continuous training on one machine, for cron or a systemd timer (see README,
# "Continuous training"): `mlpipe monitor` compares the served model's traffic (its request log,
# or the data given with --input) with the model's training data; when it finds drift (exit 4),
# `mlpipe run` retrains on the newest span, through every gate (drift gate, anomaly gate, KPI,
# baseline comparison): a model that fails one is not pushed, and the tick says so.
#
#   scripts/retrain-on-drift.sh CONFIG HOME_DIR [mlpipe monitor options, e.g. --input FILE]
#
# Exit status: 0 no drift, or retrained and pushed; 3 retrained, not blessed; 1/2 a failed step
# (a gate that stopped the run exits 1 and names itself); anything else from mlpipe as it is.
set -u
config=${1:?usage: retrain-on-drift.sh CONFIG HOME_DIR [monitor options]}
home=${2:?usage: retrain-on-drift.sh CONFIG HOME_DIR [monitor options]}
shift 2

echo "$(date -u +%FT%TZ) monitor: $config"
mlpipe monitor --config "$config" --home "$home" "$@"
status=$?
case $status in
  0) echo "$(date -u +%FT%TZ) no drift: the served model stays"; exit 0 ;;
  4) echo "$(date -u +%FT%TZ) drift: retraining on the newest span" ;;
  *) echo "$(date -u +%FT%TZ) monitor failed (exit $status)"; exit "$status" ;;
esac
mlpipe run --config "$config" --home "$home"
status=$?
echo "$(date -u +%FT%TZ) retraining finished (exit $status)"
exit "$status"
