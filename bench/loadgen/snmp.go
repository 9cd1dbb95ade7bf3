package main

import (
	"os"
	"strconv"
	"strings"
)

// udpRcvbufErrors returns the kernel's count of UDP datagrams dropped
// because a socket's receive buffer was full (RcvbufErrors in
// /proc/net/snmp), or -1 when it cannot be read. The counter is for the
// whole machine: its growth during a run tells whether failed calls were
// datagrams the kernel dropped (a server not reading fast enough) rather
// than calls the server lost.
func udpRcvbufErrors() int64 {
	data, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return -1
	}
	return parseSnmpUDP(string(data), "RcvbufErrors")
}

// parseSnmpUDP finds field in the "Udp:" header line of /proc/net/snmp
// text and returns the number under it from the following value line.
func parseSnmpUDP(snmp, field string) int64 {
	lines := strings.Split(snmp, "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "Udp: ") || !strings.HasPrefix(lines[i+1], "Udp: ") {
			continue
		}
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		for k, n := range names {
			if n == field && k < len(values) {
				v, err := strconv.ParseInt(values[k], 10, 64)
				if err != nil {
					return -1
				}
				return v
			}
		}
		return -1
	}
	return -1
}
