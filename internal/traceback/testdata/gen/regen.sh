#!/bin/sh
# regen.sh rebuilds crashgen with each Go release and captures, for every
# crash mode, the SetCrashOutput copy (NAME.crash.txt, what crashguard parses)
# and the runtime's stderr (NAME.stderr.txt, for comparison) into
# ../goX.Y/. Addresses, pointers and goroutine ids change from run to run;
# file names and line numbers do not, unless main.go changes.
#
#	./regen.sh                       # the releases below
#	./regen.sh go1.26.8              # just one
#
# Toolchains are fetched through GOTOOLCHAIN from the module proxy.
set -u
cd "$(dirname "$0")"
versions=${*:-"go1.23.12 go1.24.13 go1.25.14 go1.26.8"}

ulimit -c 0 # GOTRACEBACK=crash ends in SIGABRT: no core files.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for v in $versions; do
	dir=../$(echo "$v" | sed -E 's/^(go1\.[0-9]+).*/\1/')
	mkdir -p "$dir"
	rm -f "$dir"/*.crash.txt "$dir"/*.stderr.txt
	# Deadlock detection never fires in a cgo binary (the runtime cannot
	# know whether C code will call back), so only the cgo modes get one.
	GOTOOLCHAIN=$v CGO_ENABLED=0 go build -o "$tmp/crashgen" . || exit 1
	GOTOOLCHAIN=$v CGO_ENABLED=1 go build -o "$tmp/crashgen-cgo" . || exit 1

	# run NAME MODE [VAR=value...]: one crash, GOTRACEBACK unset unless given.
	run() {
		name=$1 mode=$2
		shift 2
		bin=$tmp/crashgen
		case $mode in cgo_*) bin=$tmp/crashgen-cgo ;; esac
		env -u GOTRACEBACK -u GODEBUG "$@" timeout 60 "$bin" -out "$dir/$name.crash.txt" "$mode" \
			>/dev/null 2>"$dir/$name.stderr.txt"
		echo "$v $name: exit $?"
	}

	for mode in $("$tmp/crashgen" -list); do
		case $mode in
		panic_many | panic_states | panic_busy) ;; # below, with GOTRACEBACK=all
		panic_labels) run "$mode" "$mode" GODEBUG=tracebacklabels=1 ;;
		panic_ancestors) run "$mode" "$mode" GODEBUG=tracebackancestors=5 ;;
		*) run "$mode" "$mode" ;;
		esac
	done
	run panic_states.all panic_states GOTRACEBACK=all
	run panic_many.all panic_many GOTRACEBACK=all CRASHGEN_N=20
	run panic_goroutine.all panic_goroutine GOTRACEBACK=all
	for mode in panic_goroutine nil_deref fault_addr map_writes map_read_write map_iter_write \
		deadlock goexit_deadlock stack_overflow oom mutex_unlock rwmutex_runlock go_nil_func cgo_segv; do
		run "$mode.system" "$mode" GOTRACEBACK=system
	done
	run panic_busy.crash panic_busy GOTRACEBACK=crash GOMAXPROCS=4
	run sigquit.crash sigquit GOTRACEBACK=crash GOMAXPROCS=4
	for mode in panic_main fault_addr map_writes; do
		run "$mode.crash" "$mode" GOTRACEBACK=crash
	done
done
