package poller

// The io_uring ABI as defined by the kernel's include/uapi/linux/io_uring.h. Only what
// uringnet uses is spelled out; the numbers must never be reordered.

// Opcode is an io_uring operation (IORING_OP_*).
type Opcode uint8

// Operations used by uringnet.
const (
	OpNop            Opcode = 0
	OpPollAdd        Opcode = 6
	OpPollRemove     Opcode = 7
	OpSendmsg        Opcode = 9
	OpRecvmsg        Opcode = 10
	OpTimeout        Opcode = 11
	OpTimeoutRemove  Opcode = 12
	OpAccept         Opcode = 13
	OpAsyncCancel    Opcode = 14
	OpLinkTimeout    Opcode = 15
	OpConnect        Opcode = 16
	OpClose          Opcode = 19
	OpFilesUpdate    Opcode = 20
	OpRead           Opcode = 22
	OpWrite          Opcode = 23
	OpSend           Opcode = 26
	OpRecv           Opcode = 27
	OpShutdown       Opcode = 34
	OpMsgRing        Opcode = 40
	OpSocket         Opcode = 45
	OpUringCmd       Opcode = 46
	OpSendZC         Opcode = 47
	OpFixedFdInstall Opcode = 54
	OpBind           Opcode = 56
	OpListen         Opcode = 57
)

// SetupFlags are io_uring_setup flags (IORING_SETUP_*).
type SetupFlags uint32

// Setup flags that uringnet uses. SetupCQSize is set by New when Options.CQEntries is non-zero.
const (
	SetupCQSize       SetupFlags = 1 << 3
	SetupClamp        SetupFlags = 1 << 4
	SetupRDisabled    SetupFlags = 1 << 6
	SetupSubmitAll    SetupFlags = 1 << 7
	SetupCoopTaskrun  SetupFlags = 1 << 8
	SetupTaskrunFlag  SetupFlags = 1 << 9
	SetupSingleIssuer SetupFlags = 1 << 12
	SetupDeferTaskrun SetupFlags = 1 << 13
	SetupNoSQArray    SetupFlags = 1 << 16
)

// SQEFlags are per-entry flags (IOSQE_*).
type SQEFlags uint8

// SQE flags.
const (
	FlagFixedFile      SQEFlags = 1 << 0
	FlagIODrain        SQEFlags = 1 << 1
	FlagIOLink         SQEFlags = 1 << 2
	FlagIOHardlink     SQEFlags = 1 << 3
	FlagAsync          SQEFlags = 1 << 4
	FlagBufferSelect   SQEFlags = 1 << 5
	FlagCQESkipSuccess SQEFlags = 1 << 6
)

// Completion flags (IORING_CQE_F_*).
const (
	CQEFBuffer       uint32 = 1 << 0
	CQEFMore         uint32 = 1 << 1
	CQEFSockNonempty uint32 = 1 << 2
	CQEFNotif        uint32 = 1 << 3
	cqeBufferShift          = 16
)

// Cancel flags (IORING_ASYNC_CANCEL_*).
const (
	CancelAll     uint32 = 1 << 0
	cancelFd      uint32 = 1 << 1
	CancelAny     uint32 = 1 << 2
	cancelFdFixed uint32 = 1 << 3
)

// Timeout flags (IORING_TIMEOUT_*).
const (
	TimeoutAbs          uint32 = 1 << 0
	TimeoutBoottime     uint32 = 1 << 2
	TimeoutRealtime     uint32 = 1 << 3
	TimeoutETimeSuccess uint32 = 1 << 5
	TimeoutMultishot    uint32 = 1 << 6
)

// FixedFdNoCloexec asks FIXED_FD_INSTALL for a descriptor without O_CLOEXEC.
const FixedFdNoCloexec uint32 = 1 << 0

// SendZCReportUsage asks SEND_ZC to report in the notification whether data was copied.
const SendZCReportUsage uint16 = 1 << 3

const (
	// ioprio bits for accept, recv and send.
	acceptMultishot   uint16 = 1 << 0
	recvsendPollFirst uint16 = 1 << 0
	recvMultishot     uint16 = 1 << 1

	// POLL_ADD and POLL_REMOVE flags (sqe->len).
	pollAddMulti       = 1 << 0
	pollUpdateEvents   = 1 << 1
	pollUpdateUserData = 1 << 2

	// MSG_RING commands (sqe->addr) and flags (sqe->msg_ring_flags).
	msgData          = 0
	msgSendFd        = 1
	msgRingFlagsPass = 1 << 1

	fileIndexAlloc = ^uint32(0)

	// URING_CMD commands for sockets (sqe->cmd_op).
	socketCmdSetsockopt = 3

	// io_uring_enter flags.
	enterGetEvents      = 1 << 0
	enterExtArg         = 1 << 3
	enterRegisteredRing = 1 << 4

	// Setup features (IORING_FEAT_*).
	featSingleMmap = 1 << 0
	featNodrop     = 1 << 1
	featExtArg     = 1 << 8
	featCQESkip    = 1 << 11
	featRegRegRing = 1 << 13

	// SQ ring flags.
	sqCQOverflow = 1 << 1
	sqTaskrun    = 1 << 2

	// CQ ring flags.
	cqEventfdDisabled = 1 << 0

	// mmap offsets.
	offSQRing = 0
	offSQEs   = 0x10000000

	// io_uring_register opcodes.
	registerFiles2         = 13
	registerFilesUpdate    = 6
	unregisterFiles        = 3
	registerProbe          = 8
	registerEnableRings    = 12
	registerEventfd        = 4
	registerRingFds        = 20
	unregisterRingFds      = 21
	registerPbufRing       = 22
	unregisterPbufRing     = 23
	registerFileAllocRange = 25
	registerSendMsgRing    = 31

	rsrcRegisterSparse = 1 << 0
	probeOpSupported   = 1 << 0
)

// ioSQRingOffsets is struct io_sqring_offsets.
type ioSQRingOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

// ioCQRingOffsets is struct io_cqring_offsets.
type ioCQRingOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// ioParams is struct io_uring_params.
type ioParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  ioSQRingOffsets
	cqOff                                                                  ioCQRingOffsets
}

// getEventsArg is struct io_uring_getevents_arg.
type getEventsArg struct {
	sigmask     uint64
	sigmaskSz   uint32
	minWaitUsec uint32
	ts          uint64
}

// rsrcRegister is struct io_uring_rsrc_register.
type rsrcRegister struct {
	nr, flags uint32
	resv2     uint64
	data      uint64
	tags      uint64
}

// rsrcUpdate is struct io_uring_rsrc_update (and the older io_uring_files_update).
type rsrcUpdate struct {
	offset, resv uint32
	data         uint64
}

// fileIndexRange is struct io_uring_file_index_range.
type fileIndexRange struct {
	off, len uint32
	resv     uint64
}

// bufReg is struct io_uring_buf_reg.
type bufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	resv        [3]uint64
}

// ringBuf is struct io_uring_buf; the ring's tail overlays the resv field of entry 0.
type ringBuf struct {
	addr uint64
	len  uint32
	bid  uint16
	resv uint16
}

// probeOp is struct io_uring_probe_op.
type probeOp struct {
	op    uint8
	resv  uint8
	flags uint16
	resv2 uint32
}

// probeHeader is struct io_uring_probe without its flexible array.
type probeHeader struct {
	lastOp uint8
	opsLen uint8
	resv   uint16
	resv2  [3]uint32
}
