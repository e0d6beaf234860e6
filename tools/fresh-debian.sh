#!/usr/bin/env bash
# The README's two commands on a fresh Debian 12, and nothing else: a `debootstrap bookworm`
# chroot (the default variant: Debian's required and important packages; no python3, no
# git, no tox) from the Debian mirror this machine's apt already uses, a clean clone of
# this repository's current branch in it, then, as root inside, `./run` and `./run tests`.
# Each command's wall time, exit status and log go to WORKDIR/logs/.  Not part of CI.
#
#   tools/fresh-debian.sh [--first] [WORKDIR]   (as root; WORKDIR /var/tmp/fresh-debian)
#
# --first runs the first command only.  WORKDIR/root is made anew on every call, a copy of
# the untouched debootstrap result kept in WORKDIR/bookworm (made once; remove it to
# debootstrap again).  /proc, /sys and /dev (with /dev/pts, /dev/shm)
# are mounted into the chroot for the commands' time only (QEMU, chromium), and unmounted on
# the way out, whatever happens.  Needs root, network to the mirror and to PyPI (tox 4).
set -euo pipefail

only_first=
if [ "${1:-}" = --first ]; then
	only_first=1
	shift
fi
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
workdir=$(realpath -m "${1:-/var/tmp/fresh-debian}")
root=$workdir/root
base=$workdir/bookworm
logs=$workdir/logs
checkout=/root/residency-kselftest
[ "$(id -u)" -eq 0 ] || { echo "fresh-debian: run as root (debootstrap, chroot)" >&2; exit 2; }

say() { echo "fresh-debian: $*"; }

mounted=()
unmount_all() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount -R "${mounted[i]}" || umount -R -l "${mounted[i]}" || true
	done
	mounted=()
}
trap unmount_all EXIT
mount_into() { # mount_into TARGET MOUNT-ARGS...
	mkdir -p "$root$1"
	mount "${@:2}" "$root$1"
	mounted+=("$root$1")
}

# The mirrors: where this machine's apt gets bookworm, its updates and its security
# updates from.  debootstrap's chroot knows only bookworm (the point release: kernel
# 6.1.176); Debian's installer writes the three, as below.
sources=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' | sort -u |
	awk '$2 ~ /^bookworm(-updates|-security)?$/ { print "deb " $1 " " $2 " main" }')
mirror=$(awk '$3 == "bookworm" { print $2 }' <<<"$sources")
[ -n "$mirror" ] || { echo "fresh-debian: apt has no bookworm source" >&2; exit 2; }
command -v debootstrap >/dev/null || apt-get install -y -q debootstrap

if [ -e "$root" ]; then
	findmnt -R "$root" >/dev/null && { echo "fresh-debian: $root has mounts" >&2; exit 2; }
	rm -rf "$root"
fi
mkdir -p "$logs"
if [ ! -e "$base/.debootstrap-done" ]; then
	rm -rf "$base"
	say "debootstrap bookworm $base $mirror"
	start=$SECONDS
	debootstrap bookworm "$base" "$mirror" >"$logs/debootstrap.log" 2>&1
	touch "$base/.debootstrap-done"
	say "debootstrap: $((SECONDS - start)) s"
fi
cp -a "$base" "$root"
rm "$root/.debootstrap-done"
echo "$sources" >"$root/etc/apt/sources.list"
say "sources.list: $(tr '\n' ';' <"$root/etc/apt/sources.list")"

branch=$(git -C "$repo" rev-parse --abbrev-ref HEAD)
git clone --quiet --branch "$branch" "$repo" "$root$checkout"
say "clone: $branch at $(git -C "$root$checkout" log --oneline -1)"

mount_into /proc -t proc proc
mount_into /sys -t sysfs sysfs
mount_into /dev --rbind /dev  # /dev/pts and /dev/shm with it
mount --make-rslave "$root/dev"  # nothing done under it reaches the host's /dev
# This site's network, as a machine here is set up before anyone logs in: its DNS, the
# local CAs its HTTPS goes through (Debian's ca-certificates adds them when ./run installs
# it; without them pip cannot reach PyPI here), and what this machine's apt is told of its
# Debian mirror, a frozen copy whose Release files are past their Valid-Until (without it
# apt refuses experimental's, where linux-source-7.3 is).
cp /etc/resolv.conf "$root/etc/resolv.conf"
for option in Acquire::Check-Valid-Until Acquire::Check-Date; do
	value=$(apt-config dump "$option" | awk '{ print $2 }')
	[ -z "$value" ] || echo "$option $value" >>"$root/etc/apt/apt.conf.d/99site-mirror"
done
if [ -d /usr/local/share/ca-certificates ]; then
	mkdir -p "$root/usr/local/share/ca-certificates"
	cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi

# A login shell's environment, nothing of this one's.
inside() { # inside LOGNAME COMMAND
	local status=0
	say "# $2"
	start=$SECONDS
	chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/bash -c "cd $checkout && $2" >"$logs/$1.log" 2>&1 || status=$?
	say "$2: exit $status, $((SECONDS - start)) s (log: $logs/$1.log)"
	tail -n 15 "$logs/$1.log" | sed 's/^/    /'
	return "$status"
}
first=0 second=0
inside first ./run || first=$?
[ -n "$only_first" ] || inside second "./run tests" || second=$?
unmount_all
say "first command exit $first${only_first:+ (the second not run)}, second command exit $second"
[ "$first" -eq 0 ] && [ "$second" -eq 0 ]
