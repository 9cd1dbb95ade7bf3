//go:build !linux

package server

import "syscall"

// udpControl does nothing outside Linux: port sharing between readers is
// Linux-only, and the receive buffer is set with SetReadBuffer after the
// socket is open.
func udpControl(reuse bool, bufSize int) func(network, address string, c syscall.RawConn) error {
	return nil
}

// reusePortSupported reports whether several UDP readers can share a port
// and udpControl sets the receive buffer.
const reusePortSupported = false
