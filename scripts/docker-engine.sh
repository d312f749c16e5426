#!/usr/bin/env bash
# Makes sure a Docker engine answers, as a fresh machine needs for `make image` and the
# container tests: installs Debian's docker.io (its CLI does BuildKit builds) when no engine
# runs, and starts dockerd the way this host allows (no bridge, no iptables: every container
# and build uses --network host). Prints the docker CLI to use on the last line.
# An engine that already answers is used as it is and never stopped.
#   scripts/docker-engine.sh stop   stops the engine only if this script started it
set -euo pipefail
log=${DOCKERD_LOG:-/tmp/mlpipe-dockerd.log}
started=/tmp/mlpipe-dockerd.started   # holds the pid of the dockerd this script started
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
if [ "${1:-}" = stop ]; then
	[ -s "$started" ] || exit 0
	pid=$(cat "$started")
	rm -f "$started"
	if $SUDO kill "$pid" 2>/dev/null; then
		for _ in $(seq 1 60); do $SUDO kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
		echo "Stopped the dockerd this script started (pid $pid)" >&2
	fi
	exit 0
fi
# Debian's CLI first: another docker CLI on the PATH may lack buildx/BuildKit.
for cli in /usr/bin/docker docker; do
	if command -v "$cli" >/dev/null && "$cli" info >/dev/null 2>&1; then
		command -v "$cli"; exit 0
	fi
done
if ! [ -x /usr/bin/dockerd ]; then
	echo "Installing Debian's docker.io (log: $log)" >&2
	{ $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker.io; } \
		>> "$log" 2>&1 || { tail -n 20 "$log" >&2; exit 1; }
fi
echo "Starting dockerd (log: $log)" >&2
$SUDO sh -c "nohup dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=overlay2 >> '$log' 2>&1 & echo \$! > '$started'"
for _ in $(seq 1 60); do
	/usr/bin/docker info >/dev/null 2>&1 && { echo /usr/bin/docker; exit 0; }
	sleep 0.5
done
echo "dockerd did not answer within 30 s; see $log" >&2
tail -n 20 "$log" >&2
exit 1
