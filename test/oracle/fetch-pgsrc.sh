#!/bin/bash
# fetch-pgsrc.sh - fetch PostgreSQL's core regression suite for one major
# from the distribution's source package, once, and print its directory.
#
#   test/oracle/fetch-pgsrc.sh <major> <server version, e.g. 15.20>
#
# The source package postgresql-<major> comes from the deb-src lines of the
# running system's suite (from /etc/os-release), with a private sources list
# and private package lists, so the host's apt configuration (one-line or
# deb822 format, with or without deb-src) does not matter.  The version of
# the running server is preferred; when the archive no longer has it (a
# security update replaced it), the newest version of the same major is
# used: the oracle compares two runs of the same suite, so a minor version
# apart is harmless.  Only src/test/regress and contrib/spi are extracted
# from the upstream tarball, with tar (no dpkg-dev needed), into
# ${MG_PGSRC_CACHE:-/var/cache/migration_guard/pgsrc}/<major>/.
set -euo pipefail

major=$1
want=${2:-}
cache=${MG_PGSRC_CACHE:-/var/cache/migration_guard/pgsrc}/$major
say() { echo "[oracle] $*" >&2; }

if [ -f "$cache/.complete" ]; then
    cat "$cache/.complete"
    exit 0
fi

# shellcheck disable=SC1091
. /etc/os-release
suite=${VERSION_CODENAME:-}
# unstable names testing's codename and says "<testing>/sid" in PRETTY_NAME
case ${PRETTY_NAME:-} in
    */sid*) suite=sid ;;
esac
[ -n "$suite" ] || { say "cannot tell the distribution suite from /etc/os-release"; exit 1; }
mirror=${MG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${MG_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mg-pgsrc.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/parts" "$tmp/dl"
{
    echo "deb-src $mirror $suite main"
    case $suite in
        sid|unstable) echo "deb-src $mirror experimental main" ;;
        *) echo "deb-src $mirror $suite-updates main"
           echo "deb-src $security $suite-security main" ;;
    esac
    # Only for the fallback below: other suites' PostgreSQL majors.
    for other in bookworm trixie sid; do
        [ "$other" = "$suite" ] || echo "deb-src $mirror $other main"
    done
} >"$tmp/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o "Dir::Etc::SourceParts=$tmp/parts"
          -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o APT::Sandbox::User=root)
say "fetching the source of postgresql-$major ($suite)"
apt-get -qq "${apt_opts[@]}" update >&2 2>"$tmp/update.log" || { cat "$tmp/update.log" >&2; exit 1; }

# Download postgresql-$1's source (the version $2 first, then the newest)
# into $tmp/dl; sets $got to the version.
download() {
    local m=$1 prefer=$2 versions ordered v
    got=""
    versions=$(apt-cache "${apt_opts[@]}" showsrc "postgresql-$m" 2>/dev/null |
               sed -n 's/^Version: //p' | sort -rV | uniq)
    [ -n "$versions" ] || return 1
    ordered=$( { echo "$versions" | grep -E "^$prefer(-|$)" || true; echo "$versions"; } | awk '!seen[$0]++')
    for v in $ordered; do
        rm -f "$tmp/dl"/*
        if (cd "$tmp/dl" && apt-get -qq "${apt_opts[@]}" source --download-only "postgresql-$m=$v" >&2 2>"$tmp/source.log"); then
            got=$v
            return 0
        fi
        say "postgresql-$m $v cannot be downloaded"
    done
    return 1
}

used=$major
if ! download "$major" "$want"; then
    # The archive lists the source but does not serve it (a mirror that
    # lags, or an index newer than its pool).  The oracle compares two runs
    # of one suite on this server, so another major's core suite still
    # tests the guard here; say so loudly.  The nearest older major first.
    for m in $((major - 1)) $((major - 2)) $((major - 3)) $((major + 1)) $((major - 4)) $((major + 2)); do
        if download "$m" ""; then
            used=$m
            break
        fi
    done
    [ -n "$got" ] || { say "no source of postgresql-$major or a neighbouring major can be downloaded"; exit 1; }
    say "WARNING: no downloadable source of postgresql-$major; using the core suite of postgresql-$used $got instead (remove $cache to retry)"
fi
orig=$(ls "$tmp/dl"/postgresql-"$used"_*.orig.tar.*)
upstream=${got#*:}
top=postgresql-${upstream%%-*}
mkdir -p "$cache.new"
tar -C "$cache.new" -xf "$orig" "$top/src/test/regress" "$top/contrib/spi"
rm -rf "$cache"
mv "$cache.new" "$cache"
echo "$cache/$top $got" >"$cache/.complete"
say "cached postgresql-$used $got in $cache"
cat "$cache/.complete"
