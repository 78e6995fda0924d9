package listener

// An accepted socket's File is given the read deadline lazily. net/http sets a read deadline
// long past and then none around every request, to end its background read, which has most
// often not yet begun: Read answers a deadline long past itself, and a Read that goes to the
// File first gives it the deadline kept, if the File was last given another. A deadline set
// while a Read is in the File (fileReadBit) goes to it at once, to end that Read. The reader
// announces itself before it looks at the deadline kept, and a setter keeps the deadline before
// it looks for the reader: one of the two gives the File the deadline.
//
// A program handed the descriptor (SyscallConn) waits in the File with its own reads, and a
// File that was retired is revived with the deadlines kept: from then on the File takes read
// deadlines as they are set (fileEagerBit).

// readSocket reads from the socket, the File given the read deadline kept first.
func (lc *Conn) readSocket(p []byte) (int, error) {
	s, ok := lc.nc.(*socket)
	if !ok {
		return lc.nc.Read(p)
	}
	if lc.shut.Or(fileReadBit)&fileEagerBit == 0 {
		lc.fileReadDeadline(s, false) // if it fails, the Read says why (a closed socket)
	}
	n, err := s.Read(p)
	lc.shut.And(^uint32(fileReadBit))
	return n, err
}

// fileReadDeadline gives the socket's File the read deadline kept, unless it was the last it was
// given; always, if force (a setter that found a Read in the File, or an eager one: it may have
// been given a deadline another kept just before).
func (lc *Conn) fileReadDeadline(s *socket, force bool) error {
	l := lc.link.Load()
	if l.blank() {
		return nil // no deadline was ever kept, and the File was given none
	}
	if !force && l.rdlAt.at.Load() == l.fileRdl.Load() {
		return nil
	}
	l.fileRdlMu.Lock()
	defer l.fileRdlMu.Unlock()
	at := l.rdlAt.at.Load()
	if !force && at == l.fileRdl.Load() {
		return nil
	}
	if err := s.SetReadDeadline(l.rdlAt.load()); err != nil {
		return err
	}
	l.fileRdl.Store(at)
	return nil
}

// fileDeadlinesEager has the File take read deadlines as they are set from now on, and gives it
// the one kept (SyscallConn: the program's reads wait in the File).
func (lc *Conn) fileDeadlinesEager() {
	s, ok := lc.nc.(*socket)
	if !ok || lc.shut.Or(fileEagerBit)&fileEagerBit != 0 {
		return
	}
	lc.fileReadDeadline(s, true)
}
