#!/bin/bash
# pgchroot.sh - make or reuse a Debian chroot carrying a given PostgreSQL major,
# and optionally run a command inside it with the source tree at /src.
#
#   test/pgchroot.sh SUITE MAJOR                 print the chroot path (creating it if needed)
#   test/pgchroot.sh SUITE MAJOR -- CMD ARGS...  ...then run CMD in it, exit with CMD's status
#   test/pgchroot.sh --mirrors                   print the Debian and security mirrors it would use
#
# e.g. trixie 17, sid 18, sid 19 (19 from experimental, pinned to src:postgresql-19 only).
# MAJOR 0: the base chroot only (user mgtest, no PostgreSQL), e.g. to install a package into.
# Environment:
#   PGCHROOT_DIR      where chroots live (default /var/cache/migration_guard/chroots); one per SUITE
#   PGCHROOT_SRC      host directory shown as /src inside (default: current directory)
#   PGCHROOT_PASSENV  names of extra host variables to pass to CMD (space/comma separated)
#   PGCHROOT_APT_DIR  where the host's apt sources are read (default /etc/apt), to find its mirror;
#                     either format (sources.list, *.list, deb822 *.sources); none: deb.debian.org
# CMD sees only PATH, LANG=C.UTF-8, PG_CONFIG, PGMAJOR and PGCHROOT_PASSENV's variables; it
# runs as root in /src, in a private mount+PID namespace: when CMD exits, or this script gets
# TERM/INT/HUP, everything inside (a postmaster included) is killed and no mount remains.
# An unprivileged user `mgtest` (uid 2000) exists inside for initdb/pg_regress.
# The notes in /work/shared/multiversion.md ("gotcha N") explain most of the details below.
set -euo pipefail

log() { echo "pgchroot: $*" >&2; }
die() { echo "pgchroot: ERROR: $*" >&2; exit 1; }
# Any command that fails unexpectedly under set -e says what it was, instead of a silent exit.
set -E
trap 'rc=$?; echo "pgchroot: ERROR: command failed (status $rc) at line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin   # runuser is in /usr/sbin

# ---- internal mode: runs as PID 1's child inside the new namespaces (see ns_run) ----------
# args: ROOT SRC(or empty) NENV ENV... CMD...   /proc is already mounted by --mount-proc.
if [ "${1:-}" = --inner ]; then
    root=$2 src=$3 nenv=$4; shift 4
    envs=("${@:1:nenv}"); shift "$nenv"
    mount --rbind /dev "$root/dev"                                 # mounts are private to
    mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm" # this namespace (gotcha 7)
    cd=/
    if [ -n "$src" ]; then
        mkdir -p "$root/src"; cd=/src
        if ! mount --bind "$src" "$root/src" 2>/dev/null; then
            echo "pgchroot: bind mount of $src failed, copying it instead (changes are lost)" >&2
            mount -t tmpfs tmpfs "$root/src" && cp -a "$src/." "$root/src/"
        fi
    fi
    exec chroot "$root" /usr/bin/env -i -C "$cd" "${envs[@]}" "$@"
fi

usage() { sed -n '2,20s/^# \{0,1\}//p' "$0" >&2; exit 2; }
APT_DIR=${PGCHROOT_APT_DIR:-/etc/apt}
OS_RELEASE=${PGCHROOT_OS_RELEASE:-/etc/os-release}
SHOW_MIRRORS=0
if [ "${1:-}" = --mirrors ] && [ $# -eq 1 ]; then
    SHOW_MIRRORS=1 SUITE=none MAJOR=0
else
    [ $# -ge 2 ] || usage
    SUITE=$1 MAJOR=$2; shift 2
    [[ $SUITE =~ ^[a-z]+$ && $MAJOR =~ ^[0-9]+$ ]] || usage
    if [ $# -gt 0 ]; then
        if [ "$1" != -- ] || [ $# -lt 2 ]; then usage; fi
        shift
    fi
    [ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, mounts)"
fi

BASE=${PGCHROOT_DIR:-/var/cache/migration_guard/chroots}
ROOT=$BASE/$SUITE
BASE_OK=$ROOT/.pgchroot-base-ok      # written once debootstrap + base config succeeded
MAJOR_OK=$ROOT/.pgchroot-pg$MAJOR-ok  # written once postgresql-MAJOR is installed
SELF=$(readlink -f "$0")
T0=$EPOCHREALTIME
elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }'; }

# Run CMD inside the chroot in private mount+PID namespaces. SRC may be empty. Extra
# environment for CMD comes from the array ENV_ARGS. Returns CMD's status.
# unshare --fork ignores TERM/INT while waiting and PID 1 ignores them too (gotcha 13), so
# those signals become SIGKILL of unshare; --kill-child then kills the whole namespace.
ns_run() {
    local src=$1; shift
    unshare --mount --pid --fork --kill-child --mount-proc="$ROOT/proc" \
        "$SELF" --inner "$ROOT" "$src" "${#ENV_ARGS[@]}" "${ENV_ARGS[@]}" "$@" &
    local pid=$! rc=0 sig
    # shellcheck disable=SC2064  # expand pid and sig now
    for sig in TERM:143 INT:130 HUP:129; do
        trap "kill -KILL $pid 2>/dev/null; { wait $pid; } 2>/dev/null || :; log 'got SIG${sig%:*}, killed CMD'; exit ${sig#*:}" "${sig%:*}"
    done
    wait "$pid" || rc=$?
    trap - TERM INT HUP
    return "$rc"
}

# Run a shell snippet as root inside the chroot, with /proc mounted (needed by
# postgresql-common's postinst in sid, gotcha 3) and a non-interactive apt.
in_chroot() {
    ENV_ARGS=(PATH="$CHROOT_PATH" LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
    ns_run "" /bin/sh -ec "$1"
}

# ---- mirrors: the host's own Debian mirror, from either apt sources format ---------------
# Reads one-line sources ($APT_DIR/sources.list, sources.list.d/*.list) and deb822 ones
# (sources.list.d/*.sources), skipping comments, deb-src, disabled stanzas and non-network
# URIs such as cdrom:.  Prints "URI SUITE" for every deb entry.  Never fails: no file, or no
# usable entry, simply prints nothing (the caller falls back to deb.debian.org).
host_apt_entries() {
    local f files=()
    for f in "$APT_DIR/sources.list" "$APT_DIR"/sources.list.d/*.list "$APT_DIR"/sources.list.d/*.sources; do
        [ -f "$f" ] && [ -r "$f" ] && files+=("$f")
    done
    [ ${#files[@]} -gt 0 ] || return 0
    awk '
        function flush(   i, j, nu, ns, u, s) {
            if (types ~ /(^| )deb( |$)/ && enabled !~ /^(no|false|0)$/) {
                nu = split(uris, u, " "); ns = split(suites, s, " ")
                for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) emit(u[i], s[j])
            }
            types = uris = suites = ""; enabled = "yes"
        }
        function emit(uri, suite) {
            sub(/\/+$/, "", uri)
            if (uri ~ /^(https?|ftp|file):\/\//) print uri, suite
        }
        FNR == 1 { flush(); deb822 = (FILENAME ~ /\.sources$/) }
        { sub(/\r$/, "") }
        /^[ \t]*#/ { next }
        deb822 && /^[ \t]*$/ { flush(); next }
        deb822 {
            field = tolower($1); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
            if (field == "types:") types = val
            else if (field == "uris:") uris = val
            else if (field == "suites:") suites = val
            else if (field == "enabled:") enabled = tolower(val)
            next
        }
        $1 == "deb" {
            line = $0; sub(/[ \t]*#.*/, "", line)
            sub(/^[ \t]*deb[ \t]+/, "", line)
            if (line ~ /^\[/) sub(/^\[[^]]*\][ \t]*/, "", line)   # [arch=... signed-by=...]
            split(line, w, /[ \t]+/)
            emit(w[1], w[2])
        }
        END { flush() }
    ' "${files[@]}" 2>/dev/null || true
}
# The mirror that serves the host's own codename (so a third-party repository listed first,
# e.g. apt.postgresql.org with suite bookworm-pgdg, is not taken for Debian's archive), else
# any entry whose URI ends in /debian, else deb.debian.org.  Security: the host's
# CODENAME-security entry, else debian-security next to the mirror.
pick_mirrors() {
    local codename entries
    codename=$( (. "$OS_RELEASE" 2>/dev/null && echo "${VERSION_CODENAME:-}") || true)
    entries=$(host_apt_entries)
    MIRROR=$(awk -v c="$codename" '
        c != "" && ($2 == c || $2 == c "-updates") && $1 !~ /security/ { print $1; exit }' <<<"$entries")
    [ -n "$MIRROR" ] || MIRROR=$(awk '$1 ~ /\/debian$/ { print $1; exit }' <<<"$entries")
    MIRROR=${MIRROR:-http://deb.debian.org/debian}
    SECMIRROR=$(awk -v c="$codename" '
        ($2 == c "-security" || $2 == c "/updates") { print $1; exit }' <<<"$entries")
    [ -n "$SECMIRROR" ] || SECMIRROR=$(awk '$1 ~ /\/debian-security$/ { print $1; exit }' <<<"$entries")
    if [ -z "$SECMIRROR" ]; then
        case $MIRROR in
            */debian) SECMIRROR=${MIRROR%/debian}/debian-security ;;
            *) SECMIRROR=http://deb.debian.org/debian-security ;;
        esac
    fi
}

pick_mirrors
if [ "$SHOW_MIRRORS" = 1 ]; then
    echo "mirror $MIRROR"
    echo "security $SECMIRROR"
    exit 0
fi

# ---- base chroot: debootstrap + configuration --------------------------------------------
make_base() {
    if [ -e "$ROOT" ]; then   # a chroot without marker is an interrupted setup: replace it
        awk -v r="$ROOT" '$2 == r || index($2, r "/") == 1 { f = 1 } END { exit !f }' /proc/mounts &&
            die "$ROOT is half-made and has mounts under it; unmount them first (suite $SUITE)"
        log "removing incomplete chroot $ROOT"
        rm -rf --one-file-system "$ROOT"
    fi
    if ! command -v debootstrap >/dev/null; then
        log "installing debootstrap on the host (apt-get update first)"
        apt-get -q -o Acquire::Retries=3 update >&2 ||
            die "apt-get update failed on the host (see above), cannot install debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Acquire::Retries=3 install debootstrap >&2 ||
            die "could not install debootstrap on the host (see above)"
    fi
    # Bookworm's debootstrap has no script for forky (or later testing suites): use sid's.
    local script=()
    [ -e "/usr/share/debootstrap/scripts/$SUITE" ] || script=(/usr/share/debootstrap/scripts/sid)
    log "debootstrap $SUITE from $MIRROR into $ROOT (takes ~30 s)"
    mkdir -p "$BASE"
    # debootstrap retries each failed download itself (up to 10 times), so a failure here is
    # worth reporting, not retrying blindly.
    if ! debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" "${script[@]}" >&2; then
        if [ -f "$ROOT/debootstrap/debootstrap.log" ]; then
            log "last lines of $ROOT/debootstrap/debootstrap.log:"
            tail -n 15 "$ROOT/debootstrap/debootstrap.log" >&2
        fi
        die "debootstrap of $SUITE from $MIRROR failed (needed for PostgreSQL $MAJOR); see above"
    fi

    # apt: Release files of testing/sid carry Valid-Until and the mirror may lag (gotcha 2);
    # no pty under chroot (gotcha 15); keep the chroot lean.
    cat >"$ROOT/etc/apt/apt.conf.d/99pgchroot" <<'EOF'
Acquire::Check-Valid-Until "false";
Acquire::Retries "3";
Acquire::Languages "none";
Dpkg::Use-Pty "false";
APT::Install-Recommends "false";
APT::Get::Assume-Yes "true";
EOF
    # -security/-updates only for stable suites that are known to work (gotcha 14).
    {
        echo "deb $MIRROR $SUITE main"
        case $SUITE in bookworm|trixie)
            echo "deb $MIRROR $SUITE-updates main"
            echo "deb $SECMIRROR $SUITE-security main" ;;
        esac
    } >"$ROOT/etc/apt/sources.list"
    # No service may start inside the chroot: it shares the host's network (gotcha 4).
    printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
    chmod 755 "$ROOT/usr/sbin/policy-rc.d"
    # make-ssl-cert wants an FQDN for the (shared) host name (gotcha 15).
    grep -qs localhost "$ROOT/etc/hosts" || echo "127.0.0.1 localhost" >>"$ROOT/etc/hosts"
    echo "127.0.1.1 $(hostname).localdomain $(hostname)" >>"$ROOT/etc/hosts"
    # initdb/postgres refuse root (gotcha 5): an unprivileged user for tests.
    in_chroot 'getent passwd mgtest >/dev/null || useradd -u 2000 -U -m -s /bin/bash mgtest'
    touch "$BASE_OK"
}

# ---- add postgresql-MAJOR to the chroot --------------------------------------------------
add_major() {
    # 19 is (for now) only in experimental: add it, pinned to the binaries of source package
    # postgresql-MAJOR only (that includes libpq5/libpq-dev, which server-dev-19 needs at
    # >= 19). experimental is NotAutomatic (priority 1), so nothing else comes from it.
    if [ "$SUITE" = sid ] && [ "$MAJOR" -ge 19 ]; then
        echo "deb $MIRROR experimental main" >"$ROOT/etc/apt/sources.list.d/experimental.list"
        cat >"$ROOT/etc/apt/preferences.d/pgchroot-pg$MAJOR" <<EOF
Package: src:postgresql-$MAJOR
Pin: release a=experimental
Pin-Priority: 500
EOF
    fi
    log "installing PostgreSQL $MAJOR in $SUITE"
    in_chroot "
        apt-get update -q
        if ! apt-cache show postgresql-server-dev-$MAJOR 2>/dev/null | grep -q '^Version:'; then
            echo 'postgresql-server-dev-$MAJOR is not available in $SUITE' >&2; exit 3
        fi
        # postgresql-common first: no 'main' cluster when the server package installs (gotcha 4)
        apt-get install -q postgresql-common
        conf=/etc/postgresql-common/createcluster.conf
        sed -i 's/^[# ]*create_main_cluster.*/create_main_cluster = false/' \$conf
        grep -q '^create_main_cluster = false' \$conf || echo 'create_main_cluster = false' >>\$conf
        apt-get install -q postgresql-$MAJOR postgresql-server-dev-$MAJOR build-essential \
            libipc-run-perl
        apt-get clean
        test -x /usr/lib/postgresql/$MAJOR/bin/pg_config
    " >&2 || die "could not install PostgreSQL $MAJOR in suite $SUITE (see above)"
    touch "$MAJOR_OK"
}

# ---- ensure the chroot (lock-free fast path when everything is there) --------------------
[ "$MAJOR" != 0 ] || MAJOR_OK=$BASE_OK
if [ ! -e "$BASE_OK" ] || [ ! -e "$MAJOR_OK" ]; then
    mkdir -p "$BASE"
    exec 9>"$BASE/.$SUITE.lock"
    flock 9 || die "cannot lock $BASE/.$SUITE.lock"
    [ -e "$BASE_OK" ] || make_base
    [ -e "$MAJOR_OK" ] || add_major
    exec 9>&-                       # release: CMD must not inherit the lock
    if [ "$MAJOR" = 0 ]; then log "$SUITE base chroot ready after $(elapsed)"
    else log "$SUITE with PostgreSQL $MAJOR ready after $(elapsed)"; fi
fi

if [ $# -eq 0 ]; then
    echo "$ROOT"
    exit 0
fi

# ---- run CMD ---------------------------------------------------------------------------
SRC=$(readlink -f "${PGCHROOT_SRC:-.}")
[ -d "$SRC" ] || die "PGCHROOT_SRC=$SRC is not a directory"
ENV_ARGS=(PATH="$CHROOT_PATH" LANG=C.UTF-8 PGMAJOR="$MAJOR"
          PG_CONFIG="/usr/lib/postgresql/$MAJOR/bin/pg_config")
PASSENV=${PGCHROOT_PASSENV:-}
for v in ${PASSENV//,/ }; do
    [[ $v =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "bad variable name in PGCHROOT_PASSENV: $v"
    if [ -n "${!v+set}" ]; then ENV_ARGS+=("$v=${!v}"); fi
done
rc=0
ns_run "$SRC" "$@" || rc=$?
exit "$rc"
