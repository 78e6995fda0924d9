package poller

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Capability is one kernel feature uringnet may depend on.
type Capability uint8

// Capabilities, with the kernel that introduced each. Those the opcode probe cannot see are
// tested by using them once on a scratch ring.
const (
	CapSingleIssuer    Capability = iota // SETUP_SINGLE_ISSUER (6.0), by trial setup
	CapDeferTaskrun                      // SETUP_DEFER_TASKRUN (6.1), by trial setup
	CapNoSQArray                         // SETUP_NO_SQARRAY (6.6), by trial setup
	CapRegisteredRing                    // REGISTER_RING_FDS (5.18), by trial
	CapExtArg                            // timed waits, FEAT_EXT_ARG (5.11)
	CapCQESkip                           // FlagCQESkipSuccess, FEAT_CQE_SKIP (5.17)
	CapBufferRing                        // REGISTER_PBUF_RING (5.19), by trial
	CapSparseFiles                       // sparse table and FILE_ALLOC_RANGE (6.0), by trial
	CapMultishotRecv                     // multishot RECV (6.0), by a receive on a socketpair
	CapMultishotAccept                   // multishot ACCEPT (5.19): implied by CapMultishotRecv
	CapMsgRing                           // OP_MSG_RING data messages (5.18)
	CapMsgRingFd                         // MSG_RING IORING_MSG_SEND_FD (6.0): OP_MSG_RING and CapMultishotRecv
	CapSocketDirect                      // OP_SOCKET into direct descriptors (5.19)
	CapBindListen                        // OP_BIND and OP_LISTEN (6.11)
	CapFixedFdInstall                    // OP_FIXED_FD_INSTALL (6.8)
	CapSendZC                            // OP_SEND_ZC (6.0)
	CapSyncMsgRing                       // REGISTER_SEND_MSG_RING (6.13), by a message to the scratch ring
	CapRecvLimit                         // SQE.SetRecvLimit on multishot receives, by a limited receive
	CapSockCmd                           // PrepSetsockopt: URING_CMD on sockets (6.7), by setting one
	numCapabilities
)

var capabilityNames = [numCapabilities]string{
	"single-issuer", "defer-taskrun", "no-sqarray", "registered-ring", "ext-arg", "cqe-skip",
	"buffer-ring", "sparse-files", "multishot-recv", "multishot-accept", "msg-ring", "msg-ring-fd",
	"socket-direct", "bind-listen", "fixed-fd-install", "send-zc", "sync-msg-ring", "recv-limit", "sock-cmd",
}

func (c Capability) String() string {
	if c < numCapabilities {
		return capabilityNames[c]
	}
	return fmt.Sprintf("capability(%d)", uint8(c))
}

// Features is what the running kernel's io_uring can do. The zero value has nothing.
type Features struct {
	caps    uint64
	ops     [4]uint64 // opcode bitset from IORING_REGISTER_PROBE
	release string
}

// Has reports whether the kernel has capability c.
func (f Features) Has(c Capability) bool { return c < numCapabilities && f.caps&(1<<c) != 0 }

// SupportsOp reports whether the kernel knows opcode op.
func (f Features) SupportsOp(op Opcode) bool { return f.ops[op/64]&(1<<(op%64)) != 0 }

// Without returns f minus the given capabilities: how tests force the slower paths and the
// fallback on a kernel that has everything.
func (f Features) Without(cs ...Capability) Features {
	for _, c := range cs {
		f.caps &^= 1 << c
	}
	return f
}

// Missing lists which of the required capabilities f lacks.
func (f Features) Missing(required ...Capability) []Capability {
	var missing []Capability
	for _, c := range required {
		if !f.Has(c) {
			missing = append(missing, c)
		}
	}
	return missing
}

// Require returns an error matching ErrUnavailable that names every required capability f
// lacks, or nil.
func (f Features) Require(required ...Capability) error {
	missing := f.Missing(required...)
	if len(missing) == 0 {
		return nil
	}
	names := make([]string, len(missing))
	for i, c := range missing {
		names[i] = c.String()
	}
	return &UnavailableError{Op: "probe", Err: fmt.Errorf("kernel %s lacks %s", f.release, strings.Join(names, ", "))}
}

// Kernel is the running kernel's release string.
func (f Features) Kernel() string { return f.release }

// String lists the kernel release and the capabilities present.
func (f Features) String() string {
	var b strings.Builder
	b.WriteString("kernel ")
	b.WriteString(f.release)
	b.WriteString(":")
	for c := Capability(0); c < numCapabilities; c++ {
		if f.Has(c) {
			b.WriteString(" ")
			b.WriteString(c.String())
		}
	}
	return b.String()
}

func (f *Features) set(c Capability, ok bool) {
	if ok {
		f.caps |= 1 << c
	}
}

var probeResult struct {
	once sync.Once
	f    Features
	err  error
}

// Probe reports what the running kernel's io_uring can do. It probes once per process (a few
// scratch rings and one socketpair) and returns the same answer afterwards. The error matches
// ErrUnavailable when no ring can be set up at all; Features is still valid (and empty) then.
func Probe() (Features, error) {
	probeResult.once.Do(func() { probeResult.f, probeResult.err = probeKernel() })
	return probeResult.f, probeResult.err
}

// The probe's scratch rings are as small as what they try: one operation at a time on the
// probing ring, none on the rings that only try setup flags, and a buffer ring and a
// fixed-file table just large enough to register.
const (
	probeEntries     = 8  // the probing ring's submission queue
	trySetupEntries  = 2  // a ring made only to see whether the kernel takes its flags
	probeFileSlots   = 4  // the sparse fixed-file table
	probeBuffers     = 4  // buffers in the provided-buffer ring
	probeBufferSize  = 64 // each of them, in bytes
	probeBufferGroup = 0
)

func probeKernel() (Features, error) {
	var f Features
	var uts unix.Utsname
	if err := unix.Uname(&uts); err == nil {
		f.release = unix.ByteSliceToString(uts.Release[:])
	}
	// Registrations made here belong to this thread: keep the goroutine on it until the
	// scratch rings are closed.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	r, err := New(Options{Entries: probeEntries})
	if err != nil {
		return f, err
	}
	defer r.Close()
	if err := probeOpcodes(r, &f); err != nil {
		return f, err
	}
	f.set(CapExtArg, r.features&featExtArg != 0)
	f.set(CapCQESkip, r.features&featCQESkip != 0)
	f.set(CapMsgRing, f.SupportsOp(OpMsgRing))
	f.set(CapSocketDirect, f.SupportsOp(OpSocket))
	f.set(CapBindListen, f.SupportsOp(OpBind) && f.SupportsOp(OpListen))
	f.set(CapFixedFdInstall, f.SupportsOp(OpFixedFdInstall))
	f.set(CapSendZC, f.SupportsOp(OpSendZC))

	f.set(CapSingleIssuer, trySetup(SetupSingleIssuer))
	f.set(CapDeferTaskrun, trySetup(SetupSingleIssuer|SetupDeferTaskrun))
	f.set(CapNoSQArray, trySetup(SetupNoSQArray))
	f.set(CapRegisteredRing, r.RegisterRingFd() == nil)
	f.set(CapSparseFiles, r.RegisterSparseFiles(probeFileSlots) == nil && r.SetFileAllocRange(0, probeFileSlots) == nil)

	if br, err := r.RegisterBufferRing(probeBufferGroup, probeBuffers, probeBufferSize); err == nil {
		f.set(CapBufferRing, true)
		ok := probeMultishotRecv(r, br, 0)
		f.set(CapMultishotRecv, ok)
		f.set(CapMultishotAccept, ok)
		f.set(CapMsgRingFd, ok && f.Has(CapMsgRing))
		f.set(CapRecvLimit, ok && probeMultishotRecv(r, br, 1))
		br.Close()
	}
	f.set(CapSyncMsgRing, probeSyncMsgRing(r))
	f.set(CapSockCmd, f.SupportsOp(OpUringCmd) && probeSockCmd(r))
	return f, nil
}

func probeOpcodes(r *Ring, f *Features) error {
	var p struct {
		hdr probeHeader
		ops [256]probeOp
	}
	if _, err := register(r.fd, registerProbe, unsafe.Pointer(&p), uint32(len(p.ops))); err != nil {
		if errors.Is(err, unix.EINVAL) {
			return &UnavailableError{Op: "probe", Err: errors.New("kernel lacks IORING_REGISTER_PROBE (5.6)")}
		}
		return fmt.Errorf("poller: probe opcodes: %w", err)
	}
	for _, op := range p.ops[:p.hdr.opsLen] {
		if op.flags&probeOpSupported != 0 {
			f.ops[op.op/64] |= 1 << (op.op % 64)
		}
	}
	return nil
}

func trySetup(flags SetupFlags) bool {
	r, err := New(Options{Entries: trySetupEntries, Flags: flags})
	if err != nil {
		return false
	}
	r.Close()
	return true
}

// probeMultishotRecv receives with a multishot receive: a kernel without it fails the request
// with EINVAL; one with it completes with CQEFMore set. With limit 1, a kernel that honours
// SetRecvLimit ends the receive after its first completion (which may carry more than the
// limit: the limit ends the receive, it does not cut a buffer short).
func probeMultishotRecv(r *Ring, br *BufferRing, limit uint32) bool {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if _, err := unix.Write(fds[1], []byte{1, 2}); err != nil {
		return false
	}
	sqe, err := r.GetSQE()
	if err != nil {
		return false
	}
	sqe.PrepRecvMultishotBufferSelect(int32(fds[0]), br.GroupID(), 0)
	if limit > 0 {
		sqe.SetRecvLimit(limit)
	}
	sqe.SetUserData(1)
	cqe, ok := waitOne(r)
	if bid, has := cqe.BufferID(); has {
		br.Recycle(bid)
		br.Publish()
	}
	if !ok || cqe.Res <= 0 {
		return false
	}
	if !cqe.More() {
		return limit > 0
	}
	if limit > 0 {
		ok = false // the limit was ignored; the receive is still armed
	}
	// Stop the receive so that it does not outlive the probe.
	if sqe, err = r.GetSQE(); err == nil {
		sqe.PrepCancel(1, 0)
		sqe.SetUserData(2)
		for i := 0; i < 2; i++ {
			waitOne(r)
		}
	}
	return ok
}

// probeSockCmd sets SO_REUSEADDR on a socket through URING_CMD and reads it back.
func probeSockCmd(r *Ring) bool {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	one := int32(1)
	sqe, err := r.GetSQE()
	if err != nil {
		return false
	}
	sqe.PrepSetsockopt(int32(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, &one)
	sqe.SetUserData(3)
	cqe, ok := waitOne(r)
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR)
	return ok && cqe.Res == 0 && err == nil && v == 1
}

// probeSyncMsgRing sends a synchronous message to r and expects it back as a completion.
func probeSyncMsgRing(r *Ring) bool {
	const ud = 0x5c
	if err := SendMsgRingSync(r.Fd(), ud, 0, 0); err != nil {
		return false
	}
	cqe, ok := waitOne(r)
	return ok && cqe.UserData == ud
}

// waitOne submits what is queued and waits up to a second for one completion.
func waitOne(r *Ring) (CQE, bool) {
	var c [1]CQE
	if _, err := r.SubmitAndWaitTimeout(1, time.Second); err != nil && err != ErrTimedOut {
		return c[0], false
	}
	return c[0], r.ReapCompletions(c[:]) == 1
}
