package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// AddrManager puts service addresses on the node so that listeners can bind them.
// Add and Remove are counted: an address added twice stays until it is removed twice.
type AddrManager interface {
	Add(ctx context.Context, ip string) error
	Remove(ctx context.Context, ip string) error
}

// NoAddrs adds nothing: for addresses the host already has (127.0.0.0/8 on lo) and for tests.
type NoAddrs struct{}

func (NoAddrs) Add(context.Context, string) error    { return nil }
func (NoAddrs) Remove(context.Context, string) error { return nil }

// Loopback adds addresses to a device (lo) with `ip addr add IP/32 dev lo`: traffic from
// containers on a Docker bridge reaches them, and listeners see the pod IP as source.
// An address that was already there is used but never removed.
type Loopback struct {
	device string
	run    func(ctx context.Context, args ...string) ([]byte, error)
	mu     sync.Mutex
	refs   map[string]int
	ours   map[string]bool
}

// NewLoopback manages addresses on device ("lo").
func NewLoopback(device string) *Loopback {
	return &Loopback{device: device, run: runIP, refs: map[string]int{}, ours: map[string]bool{}}
}

func runIP(ctx context.Context, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, "ip", args...).CombinedOutput()
}

// Add puts ip on the device unless it is there already.
func (l *Loopback) Add(ctx context.Context, ip string) error {
	prefix, err := hostPrefix(ip)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refs[ip] > 0 {
		l.refs[ip]++
		return nil
	}
	out, err := l.run(ctx, "addr", "add", prefix, "dev", l.device)
	switch {
	case err == nil:
		l.ours[ip] = true
	case bytes.Contains(out, []byte("File exists")), bytes.Contains(out, []byte("already assigned")):
		// Left by an earlier run (e.g. after kill -9) or another user: use it, never remove it.
		l.ours[ip] = false
	default:
		return fmt.Errorf("ip addr add %s dev %s: %w: %s", prefix, l.device, err, bytes.TrimSpace(out))
	}
	l.refs[ip] = 1
	return nil
}

// Remove takes ip off the device when its last user removes it and Add put it there.
func (l *Loopback) Remove(ctx context.Context, ip string) error {
	prefix, err := hostPrefix(ip)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refs[ip] == 0 {
		return nil
	}
	if l.refs[ip]--; l.refs[ip] > 0 {
		return nil
	}
	ours := l.ours[ip]
	delete(l.refs, ip)
	delete(l.ours, ip)
	if !ours {
		return nil
	}
	if out, err := l.run(ctx, "addr", "del", prefix, "dev", l.device); err != nil {
		return fmt.Errorf("ip addr del %s dev %s: %w: %s", prefix, l.device, err, bytes.TrimSpace(out))
	}
	return nil
}

// hostPrefix is ip as a one-address prefix (IP/32 or IP/128).
func hostPrefix(ip string) (string, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "", fmt.Errorf("service address %q: %w", ip, err)
	}
	return netip.PrefixFrom(a, a.BitLen()).String(), nil
}

// Check tells whether this process can add addresses: the ip command is on PATH and the
// process has CAP_NET_ADMIN.
func (l *Loopback) Check() error {
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("the ip command (iproute2) is needed to add service addresses to %s: %w", l.device, err)
	}
	ok, err := netAdmin("/proc/self/status")
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("adding service addresses to %s needs root (CAP_NET_ADMIN)", l.device)
	}
	return nil
}

// netAdmin tells whether CAP_NET_ADMIN is among the effective capabilities in a
// /proc/<pid>/status file.
func netAdmin(path string) (bool, error) {
	const capNetAdmin = 12
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("reading capabilities: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return false, fmt.Errorf("parsing CapEff %q: %w", v, err)
			}
			return caps&(1<<capNetAdmin) != 0, nil
		}
	}
	return false, errors.New("no CapEff in " + path)
}
