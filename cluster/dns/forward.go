package dns

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/miekg/dns"
)

// forwarder sends queries for names outside the cluster domain to upstream resolvers, in order,
// each exchange bounded by timeout.
type forwarder struct {
	upstreams []string
	timeout   time.Duration
}

// exchange returns the first upstream answer, over proto ("udp" or "tcp", as the client asked).
func (f *forwarder) exchange(ctx context.Context, req *dns.Msg, proto string) (*dns.Msg, error) {
	if len(f.upstreams) == 0 {
		return nil, errors.New("no upstream resolvers")
	}
	c := &dns.Client{Net: proto, Timeout: f.timeout}
	if o := req.IsEdns0(); o != nil {
		c.UDPSize = o.UDPSize()
	}
	var errs []error
	for _, up := range f.upstreams {
		ctx, cancel := context.WithTimeout(ctx, f.timeout)
		resp, _, err := c.ExchangeContext(ctx, req, up)
		cancel()
		if err == nil {
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", up, err))
	}
	return nil, errors.Join(errs...)
}
