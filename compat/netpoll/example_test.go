//go:build !poll_opt

package netpoll_test

import (
	"fmt"
	"io"
	"net"

	"github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/uringnet/uringnet/compat/netpoll"
)

// gnet's own example (pkg/netpoll/example_test.go) with its import changed: a client
// registered read-write, level-triggered, sends when writable and it has an answer, reads when
// readable. gnet's runs until a signal and prints nothing checked; here the server answers
// three messages and then closes its side, so that the run ends and its output is checked:
// the client's read sees EOF and its callback ends Polling with ErrEngineShutdown.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("Error listening: %v", err))
	}

	defer ln.Close() //nolint:errcheck

	go func() {
		c, err := ln.Accept()
		if err != nil {
			panic(fmt.Sprintf("Error accepting connection: %v", err))
		}

		defer c.Close() //nolint:errcheck

		buf := make([]byte, 64)
		for i := 0; i < 3; i++ {
			if _, err := c.Read(buf); err != nil {
				panic(fmt.Sprintf("Error reading data from client: %v", err))
			}
			if _, err := c.Write([]byte("Hello, client!")); err != nil {
				panic(fmt.Sprintf("Error writing data to client: %v", err))
			}
		}
		c.(*net.TCPConn).CloseWrite() //nolint:errcheck
		io.Copy(io.Discard, c)        //nolint:errcheck
	}()

	poller, err := netpoll.OpenPoller()
	if err != nil {
		panic(fmt.Sprintf("Error opening poller: %v", err))
	}

	defer poller.Close() //nolint:errcheck

	addr, err := net.ResolveTCPAddr("tcp", ln.Addr().String())
	if err != nil {
		panic(fmt.Sprintf("Error resolving TCP address: %v", err))
	}
	c, err := net.DialTCP("tcp", nil, addr)
	if err != nil {
		panic(fmt.Sprintf("Error dialing TCP address: %v", err))
	}

	f, err := c.File()
	if err != nil {
		panic(fmt.Sprintf("Error getting file from connection: %v", err))
	}

	closeClient := func() {
		c.Close() //nolint:errcheck
		f.Close() //nolint:errcheck
	}
	defer closeClient()

	sendData := true

	pa := netpoll.PollAttachment{
		FD: int(f.Fd()),
		Callback: func(fd int, event netpoll.IOEvent, flags netpoll.IOFlags) error { //nolint:revive
			if netpoll.IsErrorEvent(event, flags) {
				closeClient()
				return errors.ErrEngineShutdown
			}

			if netpoll.IsReadEvent(event) {
				sendData = true
				buf := make([]byte, 64)
				n, err := c.Read(buf)
				if err != nil {
					closeClient()
					fmt.Println("Error reading data from server:", err)
					return errors.ErrEngineShutdown
				}
				fmt.Printf("Received data from server: %s\n", buf[:n])
				// Process the data...
			}

			if netpoll.IsWriteEvent(event) && sendData {
				sendData = false
				// Write data to the connection...
				_, err := c.Write([]byte("Hello, server!"))
				if err != nil {
					closeClient()
					fmt.Println("Error writing data to server:", err)
					return errors.ErrEngineShutdown
				}
				fmt.Println("Sent data to server")
			}

			return nil
		},
	}

	if err := poller.AddReadWrite(&pa, false); err != nil {
		panic(fmt.Sprintf("Error adding file descriptor to poller: %v", err))
	}

	err = poller.Polling(func(fd int, event netpoll.IOEvent, flags netpoll.IOFlags) error {
		return pa.Callback(fd, event, flags)
	})

	fmt.Printf("Poller exited with error: %v", err)
	// Output:
	// Sent data to server
	// Received data from server: Hello, client!
	// Sent data to server
	// Received data from server: Hello, client!
	// Sent data to server
	// Received data from server: Hello, client!
	// Sent data to server
	// Error reading data from server: EOF
	// Poller exited with error: gnet: server is going to be shutdown
}
