#!/bin/bash
# build-deb.sh - build the Debian packages postgresql-<major>-migration-guard.
#
#   packaging/build-deb.sh [OUTDIR]      (default OUTDIR: dist/ in the checkout)
#
# As root on Debian 12 (or any Debian release with postgresql-server-dev-all):
# runs apt-get update, installs the build dependencies (build-essential,
# debhelper, dpkg-dev, postgresql-server-dev-all), then builds the binary
# packages with debian/rules (pg_buildext) in a temporary copy of the tree,
# one package for each major that is both in debian/pgversions and supported
# by this system (Debian 12: 15).  OUTDIR receives the .deb files and the
# .buildinfo/.changes files; the checkout itself is only read.
set -euo pipefail
fail() { echo "build-deb: ERROR: $*" >&2; exit 1; }
trap 'rc=$?; echo "build-deb: ERROR: command failed (status $rc) at line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR

src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/dist}
[ "$(id -u)" = 0 ] || fail "run as root: it installs the build dependencies with apt-get"
[ -f "$src/debian/control.in" ] || fail "$src/debian/control.in is missing"
T0=$EPOCHREALTIME
elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }'; }

echo "== installing the build dependencies (apt-get update first) =="
export DEBIAN_FRONTEND=noninteractive
apt-get -q -o Acquire::Retries=3 update || fail "apt-get update failed (see above)"
apt-get -q -y -o Acquire::Retries=3 install --no-install-recommends \
    build-essential debhelper dpkg-dev postgresql-server-dev-all ||
    fail "could not install the build dependencies (see above)"

version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
upstream=${version%-*}
work=$(mktemp -d "${TMPDIR:-/tmp}/mg-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
tree=$work/migration-guard-$upstream
mkdir "$tree"
tar -C "$src" --exclude=.git --exclude=dist --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
    --exclude=results --exclude=output_iso --exclude='tmp_*' -cf - . | tar -C "$tree" -xf -

cd "$tree"
versions=$(pg_buildext supported-versions)
[ -n "$versions" ] || fail "no PostgreSQL major is both in debian/pgversions and supported here"
echo "== building migration-guard $version for PostgreSQL $versions =="
# debian/control lists one package per major: regenerate it for this system's majors.
pg_buildext updatecontrol
if ! dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1; then
    tail -n 60 "$work/build.log" >&2
    fail "dpkg-buildpackage failed (last lines of its log above)"
fi

mkdir -p "$out"
shopt -s nullglob
files=("$work"/*.deb "$work"/*.buildinfo "$work"/*.changes)
debs=("$work"/*.deb)
[ ${#debs[@]} -gt 0 ] || fail "dpkg-buildpackage produced no .deb"
cp "${files[@]}" "$out/"
for d in "${debs[@]}"; do
    echo "$out/$(basename "$d")"
    dpkg-deb -c "$d" | awk '$NF ~ /\.(so|control|sql)$/ { print "    " $NF }'
done
echo "== built in $(elapsed) =="
