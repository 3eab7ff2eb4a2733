#!/usr/bin/env bash
# linux/arm64 under QEMU user emulation: builds the tests with
# GOARCH=arm64 CGO_ENABLED=1 CC=aarch64-linux-gnu-gcc and runs them as arm64
# programs. The tests start arm64 child programs themselves (cgocrash,
# gocrash, ...), so `go test -exec` is not enough: arm64 ELF files are made
# runnable through binfmt_misc, which needs root and a binfmt_misc mount.
# Where the machine does not allow that, this prints why and skips (exit 0);
# it never skips silently.
#
# Installs what it needs itself (Debian: qemu-user, qemu-user-binfmt,
# gcc-aarch64-linux-gnu, libc6-dev-arm64-cross; apt-get update once, only
# when something is missing). Idempotent. Run alone: bash .ci/arm64.sh
#
# What emulation cannot prove: timing, process_vm_readv (QEMU 7.2 lacks it:
# the safe read's pipe fallback runs here), real pointer-authentication keys,
# RLIMIT_AS (QEMU ignores it), -race (not under QEMU).
set -euo pipefail
cd "$(dirname "$0")/.."

skip() {
  echo "arm64: SKIPPED: $*"
  exit 0
}

binfmt=/proc/sys/fs/binfmt_misc
loader=/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1
conf=/usr/lib/binfmt.d/qemu-aarch64.conf

# 1. Packages.
missing=()
command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)
[ -f "$conf" ] || missing+=(qemu-user-binfmt)
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu)
[ -e "$loader" ] || missing+=(libc6-dev-arm64-cross)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || skip "not root: cannot install ${missing[*]}"
  command -v apt-get >/dev/null 2>&1 || skip "no apt-get to install ${missing[*]}"
  echo "arm64: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
qemu-aarch64 --version | head -n 1
aarch64-linux-gnu-gcc --version | head -n 1

# 2. binfmt_misc: arm64 ELF files run through qemu-aarch64. Debian's
# qemu-aarch64 looks for the arm64 dynamic loader and libraries under
# /etc/qemu-binfmt/aarch64 (its interpreter prefix): no environment variable
# to lose when a test starts a child with an environment of its own.
interp() { sed -n 's/^interpreter //p' "$binfmt/qemu-aarch64" 2>/dev/null; }
ready() {
  [ -e "$binfmt/qemu-aarch64" ] && [ "$(head -n 1 "$binfmt/qemu-aarch64")" = enabled ] &&
    [ -x "$(interp)" ] && [ -e /etc/qemu-binfmt/aarch64 ]
}
if ! ready; then
  [ "$(id -u)" -eq 0 ] || skip "not root: cannot register arm64 programs with binfmt_misc"
  if [ ! -e "$binfmt/register" ]; then
    mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null ||
      skip "no binfmt_misc (cannot mount it on $binfmt): arm64 child programs cannot run"
  fi
  if [ -e "$binfmt/qemu-aarch64" ] && [ ! -x "$(interp)" ]; then
    echo "arm64: the registered interpreter $(interp) is gone: registering again"
    echo -1 >"$binfmt/qemu-aarch64" || skip "cannot remove the stale binfmt_misc entry"
  fi
  if [ ! -e "$binfmt/qemu-aarch64" ]; then
    cat "$conf" >"$binfmt/register" 2>/dev/null ||
      skip "cannot register qemu-aarch64 with binfmt_misc (read-only or not allowed in this container)"
  fi
  [ "$(head -n 1 "$binfmt/qemu-aarch64")" = enabled ] || echo 1 >"$binfmt/qemu-aarch64"
  mkdir -p /etc/qemu-binfmt
  [ -e /etc/qemu-binfmt/aarch64 ] || ln -s /usr/aarch64-linux-gnu /etc/qemu-binfmt/aarch64
fi

export GOARCH=arm64 CGO_ENABLED=1 CC=aarch64-linux-gnu-gcc
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

# 3. A cgo arm64 program must run as a program: else every test would fail
# for the machine's sake, not the code's.
smoke=$(mktemp -d)
trap 'rm -rf "$smoke"' EXIT
cat >"$smoke/main.go" <<'EOF'
package main

// static int seven(void) { return 7; }
import "C"

import "runtime"

func main() { println(runtime.GOARCH, C.seven()) }
EOF
printf 'module smoke\n\ngo 1.23\n' >"$smoke/go.mod"
(cd "$smoke" && go build -o smoke . && ./smoke) 2>&1 | grep -qx 'arm64 7' || {
  echo "arm64: a cgo arm64 program does not run through binfmt_misc:"
  (cd "$smoke" && ./smoke) || true
  exit 1
}
echo "arm64: binfmt_misc runs arm64 programs through $(interp)"

# 4. Every package's tests, never from the test cache (-count=1: the point
# is to run them under emulation). QEMU once deadlocked in a fork: an outer
# bound. CRASHGUARD_TEST_EMULATION tells the tests that start hundreds of
# processes to start fewer (they log it).
export CRASHGUARD_TEST_EMULATION=qemu-user
echo "+ go test -count=1 ./... (GOARCH=arm64 under qemu-aarch64)"
# QEMU ignores RLIMIT_AS: the oom mode's child would take the machine's
# memory until the kernel's OOM killer ends it (SIGKILL, no report).
echo "arm64: skipping TestGoCrashesBecomeExactlyOneAccurateReport/*/oom: QEMU ignores RLIMIT_AS"
timeout --kill-after=30s 40m go test -count=1 -timeout 35m ./... \
  -skip 'TestGoCrashesBecomeExactlyOneAccurateReport/.*/oom'
echo "arm64: passed in ${SECONDS}s (setup included)"
