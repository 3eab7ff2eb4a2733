//go:build cgo && (linux || darwin)

package native

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crashguard/crashguard-go/internal/flightrec"
	"github.com/crashguard/crashguard-go/internal/native/machsim"
)

// The TestMachSim* tests run the Mach exception server of darwin
// (cg_mach_server_darwin.c, compiled unchanged in internal/native/machsim) against
// a model of xnu's exception delivery. Each runs in a child process of its
// own: the model and the server are one per process, and a server that
// hangs (a faulting thread waits forever, as on a real kernel) must end in
// a failed test, not a hung run.

// simChildEnv marks the child that runs one TestMachSim* test.
const simChildEnv = "CRASHGUARD_MACHSIM_CHILD"

// simDeadline bounds every wait on the model; a real kernel has none.
const simDeadline = 10 * time.Second

const (
	sigFlagsRecovered = uint32(flightrec.FlagFromSignal | flightrec.FlagGoThread)
	sigFlagsFatal     = uint32(flightrec.FlagFromSignal | flightrec.FlagFatal)
	codes64           = int32(machsim.MachExceptionCodes)
)

type sim struct {
	t        *testing.T
	path     string
	baseline int64
}

// newSim returns nil in the test process, after running the calling test
// in a child process and checking that it passed; in that child it returns
// a fresh model with a flight recorder attached.
func newSim(t *testing.T) *sim {
	t.Helper()
	if os.Getenv(simChildEnv) == "" {
		runSimChild(t)
		return nil
	}
	path := filepath.Join(t.TempDir(), "flight.bin")
	require.NoError(t, flightrec.Create(path))
	lo, hi := goText()
	require.NoError(t, attachRecorder(path, lo, hi))
	record, merge := recorderEntryPoints()
	machsim.Reset(record, merge)
	return &sim{t: t, path: path}
}

func runSimChild(t *testing.T) {
	t.Helper()
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*simDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+strings.Join(parts, "/"), "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), simChildEnv+"=1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "the model's child hung:\n%s", out)
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "--- PASS: "+t.Name(), "%s", out)
	t.Logf("child passed in %v", time.Since(start).Round(time.Millisecond))
}

// install installs the server and records the rights held once it idles.
func (s *sim) install() {
	st, what, kr := machsim.Install()
	require.Equal(s.t, 1, st, "install failed: %s kr=%#x", what, kr)
	require.True(s.t, machsim.WaitIdle(simDeadline), "the serving thread never waited for work")
	s.baseline = machsim.Rights()
}

// fault raises EXC_BAD_ACCESS on thread and waits for the outcome.
func (s *sim) fault(thread int, code, addr int64, sig machsim.SigAction, flags uint32) machsim.Outcome {
	s.t.Helper()
	o, err := machsim.StartFault(thread, machsim.ExcBadAccess, code, addr, sig, flags).Wait(simDeadline)
	require.NoError(s.t, err)
	return o
}

// clean checks that the server broke no rule and leaked no right.
func (s *sim) clean() {
	s.t.Helper()
	require.True(s.t, machsim.WaitIdle(simDeadline), "the server is still busy")
	assert.NoError(s.t, machsim.Violations())
	assert.Equal(s.t, s.baseline, machsim.Rights(), "rights leaked (or lost)")
}

func (s *sim) records() []flightrec.Record {
	s.t.Helper()
	f, err := flightrec.ReadFile(s.path)
	require.NoError(s.t, err)
	return f.Records
}

// goPC is a pc inside the Go text; cPC one outside it.
func goPC() uint64 { return uint64(reflect.ValueOf(flightrec.Sentinel).Pointer()) }
func cPC() uint64  { return uint64(cFunctionPC()) }

// A first-chance fault in Go code: KERN_FAILURE, the signal, Go's recovered
// panic; one record, never fatal.
func TestMachSimFirstChanceFaultInGoCode(t *testing.T) {
	s := newSim(t)
	if s == nil {
		return
	}
	s.install()
	th := machsim.NewThread(0, 1001, goPC())
	o := s.fault(th, machsim.KernInvalidAddress, 0x10, machsim.SigRecover, sigFlagsRecovered)
	assert.Equal(t, machsim.SignalRecovered, o.Result, o.Result.String())
	assert.Equal(t, int(syscall.SIGSEGV), o.Signal)
	assert.True(t, o.Merged, "the signal must complete the Mach record")
	assert.Equal(t, 1, machsim.ServerReplies())
	recs := s.records()
	require.Len(t, recs, 1)
	r := recs[0]
	assert.True(t, r.Flags.Has(flightrec.FlagFromMach|flightrec.FlagFromSignal|flightrec.FlagGoCode), "%v", r.Flags)
	assert.False(t, r.Flags.Has(flightrec.FlagFatal))
	assert.Equal(t, uint64(1001), r.ThreadID)
	assert.Equal(t, int64(0x10), r.MachSubcode)
	s.clean()
}

// A fatal fault in C code: one record, Mach and signal merged, fatal.
func TestMachSimFatalFaultIsOneMergedRecord(t *testing.T) {
	s := newSim(t)
	if s == nil {
		return
	}
	s.install()
	th := machsim.NewThread(0, 1002, cPC())
	o := s.fault(th, machsim.KernProtectionFailure, 0x7000, machsim.SigFatal, sigFlagsFatal)
	assert.Equal(t, machsim.Died, o.Result, o.Result.String())
	assert.Equal(t, int(syscall.SIGBUS), o.Signal)
	assert.True(t, o.Merged)
	recs := s.records()
	require.Len(t, recs, 1)
	r := recs[0]
	assert.True(t, r.Flags.Has(flightrec.FlagFromMach|flightrec.FlagFromSignal|flightrec.FlagFatal), "%v", r.Flags)
	assert.Equal(t, int(syscall.SIGBUS), r.Signal)
	assert.Equal(t, 1, r.MachException)
	assert.Equal(t, int64(machsim.KernProtectionFailure), r.MachCode)
	assert.Equal(t, int64(0x7000), r.MachSubcode)
	assert.Equal(t, cPC(), r.PC)
	assert.NoError(t, machsim.Violations())
}

// A later signal handler that handles the fault (siglongjmp, a host's
// handler): the record is merged and not fatal, so no report.
func TestMachSimLaterSignalHandlerSwallowsFault(t *testing.T) {
	s := newSim(t)
	if s == nil {
		return
	}
	s.install()
	th := machsim.NewThread(0, 1003, cPC())
	o := s.fault(th, machsim.KernInvalidAddress, 0x20, machsim.SigRecover, uint32(flightrec.FlagFromSignal))
	assert.Equal(t, machsim.SignalRecovered, o.Result)
	recs := s.records()
	require.Len(t, recs, 1)
	assert.True(t, recs[0].Flags.Has(flightrec.FlagFromMach|flightrec.FlagFromSignal))
	assert.False(t, recs[0].Flags.Has(flightrec.FlagFatal))
	s.clean()
}

// The displaced handler, for each behavior and flavor it may have
// registered with: the exception is forwarded as the kernel would have
// sent it, its answer is relayed, and nothing is recorded when it handled
// the exception.
func TestMachSimDisplacedHandler(t *testing.T) {
	behaviors := []struct {
		name     string
		behavior int32
		id       int32
	}{
		{"default64", machsim.ExceptionDefault | codes64, 2405},
		{"state64", machsim.ExceptionState | codes64, 2406},
		{"identity64", machsim.ExceptionStateIdentity | codes64, 2407},
		{"default32", machsim.ExceptionDefault, 2401},
		{"state32", machsim.ExceptionState, 2402},
		{"identity32", machsim.ExceptionStateIdentity, 2403},
	}
	for _, b := range behaviors {
		for _, handled := range []bool{true, false} {
			name := b.name + "_handled"
			if !handled {
				name = b.name + "_declined"
			}
			t.Run(name, func(t *testing.T) {
				s := newSim(t)
				if s == nil {
					return
				}
				mode := machsim.PrevSuccess
				if !handled {
					mode = machsim.PrevFailure
				}
				machsim.PrevHandler(b.behavior, machsim.NativeFlavor, mode)
				s.install()
				const pc = 0x4000
				th := machsim.NewThread(0, 1004, pc)
				o := s.fault(th, machsim.KernInvalidAddress, 0x1234, machsim.SigRecover, sigFlagsRecovered)
				seen := machsim.Prev()
				assert.Equal(t, 1, seen.Count, "forwarded once")
				assert.Equal(t, b.id, seen.ID, "as the kernel would have sent it")
				assert.Equal(t, int64(0x1234), seen.Subcode)
				withState := b.id%2405 == 1 || b.id%2405 == 2 || b.id == 2402 || b.id == 2403
				if withState {
					assert.Equal(t, machsim.NativeFlavor, seen.Flavor)
					assert.NotZero(t, seen.StateCount)
				}
				if handled {
					assert.Equal(t, machsim.Resumed, o.Result, o.Result.String())
					assert.Equal(t, 0, machsim.Records(), "a handled exception leaves no record")
					assert.Empty(t, s.records())
					// The handler's new state counts for EXCEPTION_STATE
					// only, as in xnu (STATE_IDENTITY outside Developer Mode).
					want := uint64(pc)
					if b.id == 2406 || b.id == 2402 {
						want = pc + 4
					}
					assert.Equal(t, want, machsim.ThreadPC(th))
				} else {
					assert.Equal(t, machsim.SignalRecovered, o.Result, o.Result.String())
					assert.True(t, o.Merged)
					assert.Len(t, s.records(), 1)
				}
				s.clean()
			})
		}
	}
}

// A displaced handler that misbehaves: no reply, a reply the kernel would
// reject, no answer at all. Each is a failure: the fault is recorded and
// goes on to the signal, within one forward deadline.
func TestMachSimDisplacedHandlerMisbehaves(t *testing.T) {
	for _, c := range []struct {
		name string
		mode machsim.PrevMode
	}{
		{"reply_right_destroyed", machsim.PrevNoReply},
		{"wrong_reply_id", machsim.PrevBadID},
		{"wrong_reply_size", machsim.PrevBadSize},
		{"never_answers", machsim.PrevHang},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSim(t)
			if s == nil {
				return
			}
			machsim.PrevHandler(machsim.ExceptionState|codes64, machsim.NativeFlavor, c.mode)
			s.install()
			th := machsim.NewThread(0, 1005, goPC())
			start := time.Now()
			o := s.fault(th, machsim.KernInvalidAddress, 0x18, machsim.SigRecover, sigFlagsRecovered)
			took := time.Since(start)
			assert.Equal(t, machsim.SignalRecovered, o.Result, o.Result.String())
			assert.Equal(t, 0, o.Rejected, "the server's own reply is always well formed")
			assert.Len(t, s.records(), 1)
			assert.Less(t, took, 3*time.Second, "one deadline (2 s) for the whole forward")
			if c.mode != machsim.PrevHang {
				s.clean()
			} else {
				// The handler still holds the send-once right to the dead
				// reply port; the server holds nothing more.
				assert.NoError(t, machsim.Violations())
			}
		})
	}
}

// A reply the kernel rejects goes to the next level, as xnu does: a child's
// fault is passed on to the displaced handler with the kernel's own reply
// right, and that handler answers under a wrong id.
func TestMachSimRejectedReplyGoesToNextLevel(t *testing.T) {
	s := newSim(t)
	if s == nil {
		return
	}
	machsim.PrevHandler(machsim.ExceptionDefault|codes64, 0, machsim.PrevBadID)
	s.install()
	child := machsim.Fork(false)
	th := machsim.NewThread(child, 2001, 0x5000)
	o := s.fault(th, machsim.KernInvalidAddress, 0x30, machsim.SigRecover, 0)
	assert.Equal(t, machsim.ChildSignal, o.Result, o.Result.String())
	assert.Equal(t, 1, o.Rejected)
	assert.Equal(t, 0, machsim.Records())
	s.clean()
}

// A foreign task (a child that inherited the port) is never recorded: its
// request goes on to the displaced handler with the kernel's reply right,
// or (no such handler, or ports that cannot move) its own kernel path goes
// on to its signal.
func TestMachSimForeignTaskNeverRecorded(t *testing.T) {
	for _, c := range []struct {
		name      string
		prev      bool
		immovable bool
		want      machsim.Result
	}{
		{"forwarded", true, false, machsim.Resumed},
		{"immovable_ports", true, true, machsim.ChildSignal},
		{"no_displaced_handler", false, false, machsim.ChildSignal},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSim(t)
			if s == nil {
				return
			}
			if c.prev {
				machsim.PrevHandler(machsim.ExceptionDefault|codes64, 0, machsim.PrevSuccess)
			}
			s.install()
			child := machsim.Fork(c.immovable)
			th := machsim.NewThread(child, 2002, 0x5000)
			o := s.fault(th, machsim.KernInvalidAddress, 0x40, machsim.SigRecover, 0)
			assert.Equal(t, c.want, o.Result, o.Result.String())
			if c.want == machsim.Resumed {
				assert.Equal(t, 1, o.Level, "answered at the task level")
				assert.Equal(t, 1, machsim.Prev().Count)
			}
			assert.Equal(t, 0, machsim.Records(), "a child's fault is never ours")
			assert.Empty(t, s.records())
			s.clean()
		})
	}
}

// The fork child handler takes the server's port off the child, so its
// faults never come to the parent's server. The displaced handler cannot be
// put back there: the child's IPC space holds none of the parent's names
// (the model keeps a space per task).
func TestMachSimForkChildResetsPort(t *testing.T) {
	for _, prev := range []bool{true, false} {
		name := "with_displaced_handler"
		if !prev {
			name = "without"
		}
		t.Run(name, func(t *testing.T) {
			s := newSim(t)
			if s == nil {
				return
			}
			if prev {
				machsim.PrevHandler(machsim.ExceptionDefault|codes64, 0, machsim.PrevFailure)
			}
			s.install()
			child := machsim.Fork(true)
			require.Equal(t, machsim.HandlerServer, machsim.TaskHandler(child), "inherited")
			machsim.AfterForkChild(child)
			assert.Equal(t, machsim.HandlerNone, machsim.TaskHandler(child))
			assert.Equal(t, machsim.HandlerServer, machsim.TaskHandler(0), "the parent keeps the server")
			th := machsim.NewThread(child, 2003, 0x5000)
			o := s.fault(th, machsim.KernInvalidAddress, 0x50, machsim.SigRecover, 0)
			assert.Equal(t, machsim.ChildSignal, o.Result)
			assert.Equal(t, 0, machsim.ServerReplies(), "no round trip to the parent")
			s.clean()
		})
	}
}

// A fault on the serving thread itself goes to its second level: the
// displaced handlers come back, the fault is recorded, the signal lands on
// the serving thread (its synchronous signals are unblocked) and the
// process ends with a report instead of hanging.
func TestMachSimFaultOnServingThread(t *testing.T) {
	for _, prev := range []bool{false, true} {
		name := "alone"
		if prev {
			name = "with_displaced_handler"
		}
		t.Run(name, func(t *testing.T) {
			s := newSim(t)
			if s == nil {
				return
			}
			want := machsim.HandlerNone
			if prev {
				machsim.PrevHandler(machsim.ExceptionDefault|codes64, 0, machsim.PrevFailure)
				want = machsim.HandlerPrev
			}
			s.install()
			machsim.InjectServerFault(machsim.SigFatal, sigFlagsFatal)
			th := machsim.NewThread(0, 1006, goPC())
			machsim.StartFault(th, machsim.ExcBadAccess, machsim.KernInvalidAddress, 0x60, machsim.SigRecover, sigFlagsRecovered)
			sig := machsim.WaitDeath(simDeadline)
			require.Equal(t, int(syscall.SIGSEGV), sig, "the process must die by the signal, not hang")
			assert.Equal(t, want, machsim.TaskHandler(0), "displaced handlers restored by the second level")
			var found bool
			for _, r := range s.records() {
				if r.ThreadID == 0x5e5e {
					found = true
					assert.True(t, r.Flags.Has(flightrec.FlagFromMach|flightrec.FlagFromSignal|flightrec.FlagFatal), "%v", r.Flags)
					assert.Equal(t, int64(0xdead), r.MachSubcode)
				}
			}
			assert.True(t, found, "the serving thread's fault is recorded")
			assert.NoError(t, machsim.Violations())
		})
	}
}

// Receive errors: a few are retried with back-off; when the loop must end,
// the displaced handlers are restored and the port destroyed first, so no
// later fault waits on a port nobody serves.
func TestMachSimReceiveErrors(t *testing.T) {
	const rcvErr = machsim.MachRcvHeaderError | machsim.MachMsgIPCSpace
	t.Run("transient", func(t *testing.T) {
		s := newSim(t)
		if s == nil {
			return
		}
		s.install()
		th := machsim.NewThread(0, 1007, goPC())
		machsim.InjectReceiveErrors(5, rcvErr)
		for i := 0; i < 2; i++ {
			o := s.fault(th, machsim.KernInvalidAddress, 0x70, machsim.SigRecover, sigFlagsRecovered)
			assert.Equal(t, machsim.SignalRecovered, o.Result)
		}
		assert.False(t, machsim.ServingEnded())
		assert.Equal(t, 2, machsim.ServerReplies())
		s.clean()
	})
	for _, prev := range []bool{false, true} {
		name := "persistent"
		if prev {
			name += "_with_displaced_handler"
		}
		t.Run(name, func(t *testing.T) {
			s := newSim(t)
			if s == nil {
				return
			}
			want := machsim.HandlerNone
			if prev {
				machsim.PrevHandler(machsim.ExceptionDefault|codes64, 0, machsim.PrevFailure)
				want = machsim.HandlerPrev
			}
			s.install()
			th := machsim.NewThread(0, 1008, goPC())
			machsim.InjectReceiveErrors(1<<20, rcvErr)
			o := s.fault(th, machsim.KernInvalidAddress, 0x80, machsim.SigRecover, sigFlagsRecovered)
			assert.Equal(t, machsim.SignalRecovered, o.Result)
			// Raised while the server backs off: queued on its port, it
			// fails on to the next level when the port is destroyed
			// (MIG_SERVER_DIED), or skips the port once it is gone.
			queued := machsim.StartFault(machsim.NewThread(0, 1011, goPC()), machsim.ExcBadAccess,
				machsim.KernInvalidAddress, 0x88, machsim.SigRecover, sigFlagsRecovered)
			require.True(t, machsim.WaitServingEnded(simDeadline), "the loop gives up in the end")
			o, err := queued.Wait(simDeadline)
			require.NoError(t, err, "a fault queued on the abandoned port must not hang")
			assert.Equal(t, machsim.SignalRecovered, o.Result)
			assert.Equal(t, want, machsim.TaskHandler(0), "handlers restored before the thread ended")
			o = s.fault(th, machsim.KernInvalidAddress, 0x90, machsim.SigRecover, sigFlagsRecovered)
			assert.Equal(t, machsim.SignalRecovered, o.Result, "a later fault does not hang")
			assert.Equal(t, 1, machsim.ServerReplies())
			assert.Equal(t, 1, machsim.Records(), "only the fault served before the errors")
			assert.NoError(t, machsim.Violations())
		})
	}
}

// kill -SEGV: no Mach exception precedes it, so nothing merges and, with
// the Mach layer installed, it is not a CPU fault (darwin has no SI_USER).
func TestMachSimKillSegvIsNotACPUFault(t *testing.T) {
	s := newSim(t)
	if s == nil {
		return
	}
	s.install()
	th := machsim.NewThread(0, 1009, goPC())
	o := s.fault(th, machsim.KernInvalidAddress, 0x10, machsim.SigRecover, sigFlagsRecovered)
	require.True(t, o.Merged)
	// The same thread now gets a sent SIGSEGV: si_code 0 on darwin.
	merged := mergeSignal(1009, nowNS(), int(syscall.SIGSEGV), 0, 0, flightrec.FlagFromSignal)
	assert.False(t, merged, "no Mach record waits for a sent signal")
	assert.False(t, darwinCPUFault(true, merged), "with the Mach layer: not a CPU fault")
	assert.True(t, darwinCPUFault(true, true), "a matched Mach record is a CPU fault")
	assert.True(t, darwinCPUFault(false, false), "without it the origin is unknown; treated as a fault")
	s.clean()
}

// 32 threads fault at once: 32 replies, every fault served, no right
// leaked.
func TestMachSim32ThreadsAtOnce(t *testing.T) {
	s := newSim(t)
	if s == nil {
		return
	}
	s.install()
	const n = 32
	faults := make([]machsim.Fault, n)
	for i := range faults {
		th := machsim.NewThread(0, uint64(3000+i), goPC())
		faults[i] = machsim.StartFault(th, machsim.ExcBadAccess, machsim.KernInvalidAddress, int64(0x100+i), machsim.SigRecover, sigFlagsRecovered)
	}
	var wg sync.WaitGroup
	results := make([]machsim.Outcome, n)
	errs := make([]error, n)
	for i, f := range faults {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = f.Wait(simDeadline)
		}()
	}
	wg.Wait()
	for i := range faults {
		require.NoError(t, errs[i], "fault %d", i)
		assert.Equal(t, machsim.SignalRecovered, results[i].Result, "fault %d", i)
		assert.True(t, results[i].Merged, "fault %d", i)
	}
	assert.Equal(t, n, machsim.ServerReplies())
	assert.Equal(t, n, machsim.Records())
	assert.Len(t, s.records(), n)
	s.clean()
}

// EXC_CRASH is only ever set to MACH_PORT_NULL and put back; the model
// fails any in-process registration of EXC_CRASH or EXC_CORPSE_NOTIFY.
func TestMachSimCrashPortOnlyNull(t *testing.T) {
	s := newSim(t)
	if s == nil {
		return
	}
	s.install()
	assert.Zero(t, machsim.CrashPortNull(true))
	assert.Zero(t, machsim.CrashPortNull(false))
	s.clean()
}

// Rules kept as tests: the native layer never calls task_for_pid (racing
// an exec froze process listing on some macOS releases) nor any call on a
// foreign task port to tell whose a message is, and never registers
// EXC_CORPSE_NOTIFY.
func TestMachSimSourceRules(t *testing.T) {
	files, err := filepath.Glob("*.c")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	comment := regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		code := comment.ReplaceAllString(string(b), "")
		for _, banned := range []string{"task_for_pid", "pid_for_task", "EXC_MASK_CORPSE_NOTIFY", "EXC_MASK_ALL"} {
			assert.NotContains(t, code, banned, "%s", f)
		}
	}
}

// A hardened process refuses EXCEPTION_DEFAULT (KERN_DENIED): the server
// registers EXCEPTION_STATE instead, forwards to a displaced state handler
// and relays its new state, and records nothing (no thread identity).
func TestMachSimHardenedProcess(t *testing.T) {
	for _, c := range []struct {
		name string
		prev bool
		mode machsim.PrevMode
		want machsim.Result
	}{
		{"handled", true, machsim.PrevSuccess, machsim.Resumed},
		{"declined", true, machsim.PrevFailure, machsim.SignalRecovered},
		{"alone", false, 0, machsim.SignalRecovered},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSim(t)
			if s == nil {
				return
			}
			machsim.SetHardened(true)
			if c.prev {
				machsim.PrevHandler(machsim.ExceptionState|codes64, machsim.NativeFlavor, c.mode)
			}
			s.install()
			const pc = 0x6000
			th := machsim.NewThread(0, 1010, pc)
			o := s.fault(th, machsim.KernInvalidAddress, 0xa0, machsim.SigRecover, sigFlagsRecovered)
			assert.Equal(t, c.want, o.Result, o.Result.String())
			assert.Equal(t, 0, machsim.Records())
			if c.want == machsim.Resumed {
				assert.Equal(t, uint64(pc+4), machsim.ThreadPC(th), "the handler's state, relayed")
			}
			s.clean()
		})
	}
}
