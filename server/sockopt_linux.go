package server

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// udpControl prepares a UDP listener socket: SO_REUSEPORT, so that several
// sockets (one reader goroutine each) share the port and the kernel spreads
// datagrams over them, and a receive buffer of bufSize bytes, so that a
// burst or a scheduling hiccup does not overflow the kernel queue.
// SO_RCVBUFFORCE (root or CAP_NET_ADMIN) passes net.core.rmem_max; without
// the privilege SO_RCVBUF is capped at it.
func udpControl(reuse bool, bufSize int) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if reuse {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}
			if bufSize > 0 {
				if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, bufSize) != nil {
					unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, bufSize)
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}

// reusePortSupported reports whether several UDP readers can share a port.
const reusePortSupported = true
