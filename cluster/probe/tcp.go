package probe

import (
	"context"
	"net"
	"strconv"
	"time"
)

// TCP opens a TCP connection to host:port within timeout (<= 0: no limit) and closes it:
// Success when it connects, Failure with the dial error otherwise.
func TCP(ctx context.Context, host string, port int, timeout time.Duration) (Result, string, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return Failure, err.Error(), nil
	}
	_ = conn.Close()
	return Success, "", nil
}
