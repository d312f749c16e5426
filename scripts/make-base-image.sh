#!/usr/bin/env bash
# Builds a local stand-in for the pipeline image's bases when no registry can be reached:
# Debian bookworm (debootstrap, from the Debian mirror apt is configured with) plus the
# Python 3.10 interpreter the venv uses, copied in at the same path with the runtime
# libraries it links against. TFX 1.16 needs Python 3.10; bookworm ships 3.11 only.
#
# Usage: scripts/make-base-image.sh PYTHON310 [IMAGE_NAME]
# Prints the image's name (tagged by the content it was made from) on the last line; an image
# of that name that already exists is reused.
set -euo pipefail
python310=${1:?usage: make-base-image.sh PYTHON310 [IMAGE_NAME]}
name=${2:-mlpipe-base}
docker=${DOCKER:-docker}

prefix=$("$python310" -c 'import sys; print(sys.base_prefix)')
# Debian's runtime libraries for the interpreter's extension modules (ssl, sqlite3, ctypes, ...),
# libgomp for TensorFlow/scikit-learn wheels, CA certificates for pip, g++ for the few pinned
# packages that have no wheel (pyfarmhash).
packages=g++,libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,zlib1g,libreadline8,libncursesw6,libuuid1,libgdbm6,libgomp1,ca-certificates,procps
mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null \
	|| true)}
mirror=${mirror:-$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)}
[ -n "$mirror" ] || { echo "no Debian mirror found in apt's sources; set DEBIAN_MIRROR" >&2; exit 1; }

# The tag names what the image is made of, so a second `make image` reuses it.
tag=$(printf '%s\n' "bookworm" "$packages" "$prefix" "$("$python310" -VV)" "$(sha256sum "$0")" \
	| sha256sum | cut -c1-12)
image="$name:$tag"
if "$docker" image inspect "$image" >/dev/null 2>&1; then
	echo "$image"
	exit 0
fi

command -v debootstrap >/dev/null || {
	SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
	$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq debootstrap
} >&2
root=$(mktemp -d /tmp/mlpipe-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm from $mirror into $root" >&2
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" >&2
# The interpreter at the same path (pyenv's python links libpython by that absolute path).
mkdir -p "$root$prefix"
cp -a "$prefix/." "$root$prefix/"
rm -rf "$root$prefix"/lib/python3.10/test "$root$prefix"/lib/python3.10/site-packages/*
for cmd in python python3 python3.10; do ln -sf "$prefix/bin/python3.10" "$root/usr/local/bin/$cmd"; done
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | "$docker" import -c "ENV PATH=/usr/local/bin:$prefix/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin" - "$image" >&2
echo "$image"
