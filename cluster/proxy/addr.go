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
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// Loopback adds addresses to a device (lo) with `ip addr add IP/32 dev lo label lo:drvPID`:
// traffic from containers on a Docker bridge reaches them, and listeners see the pod IP as
// source. The label marks IPv4 addresses as drover's and names the process that added them,
// so addresses left behind by a drover that died (kill -9, crash) are recognised: the first
// Add removes those no live process owns, and one that is there already when added is taken
// over and removed with the last Remove. Addresses without the label (another user's, or
// IPv6, where Linux keeps no label) are used but never removed.
type Loopback struct {
	device string
	run    func(ctx context.Context, args ...string) ([]byte, error)
	pid    int
	alive  func(pid int) bool
	mu     sync.Mutex
	refs   map[string]int
	ours   map[string]bool
	pruned bool
}

// NewLoopback manages addresses on device ("lo").
func NewLoopback(device string) *Loopback {
	return &Loopback{device: device, run: runIP, pid: os.Getpid(), alive: processAlive,
		refs: map[string]int{}, ours: map[string]bool{}}
}

func runIP(ctx context.Context, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, "ip", args...).CombinedOutput()
}

// processAlive tells whether a process pid exists (in this PID namespace).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// labelInfix follows the device name in the labels of drover's addresses.
const labelInfix = ":drv"

// label is this process' address label ("" when it would not fit IFNAMSIZ).
func (l *Loopback) label() string {
	lbl := l.device + labelInfix + strconv.Itoa(l.pid)
	if len(lbl) > 15 {
		return ""
	}
	return lbl
}

// owner returns the pid named by a drover label among the fields of an `ip -o addr` line.
func (l *Loopback) owner(line string) (int, bool) {
	for _, f := range strings.Fields(line) {
		if rest, ok := strings.CutPrefix(strings.TrimSuffix(f, `\`), l.device+labelInfix); ok {
			pid, err := strconv.Atoi(rest)
			return pid, err == nil && pid > 0
		}
	}
	return 0, false
}

// leftover tells whether a drover label owned by pid marks an address left behind: its
// process is gone, or it is this process' pid (a restarted container's drover is PID 1 again).
func (l *Loopback) leftover(pid int) bool {
	return pid == l.pid || !l.alive(pid)
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
	if !l.pruned {
		l.pruned = true
		_, _ = l.pruneLocked(ctx) // best effort: Prune reports errors
	}
	args := []string{"addr", "add", prefix, "dev", l.device}
	if lbl := l.label(); lbl != "" && strings.HasSuffix(prefix, "/32") {
		args = append(args, "label", lbl)
	}
	out, err := l.run(ctx, args...)
	switch {
	case err == nil:
		l.ours[ip] = true
	case bytes.Contains(out, []byte("File exists")), bytes.Contains(out, []byte("already assigned")):
		// Left by a drover that is gone: take it over. Anyone else's: use it, never remove it.
		l.ours[ip] = l.leftoverLocked(ctx, prefix)
	default:
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	l.refs[ip] = 1
	return nil
}

// leftoverLocked tells whether prefix, already on the device, carries the label of a
// drover that is gone.
func (l *Loopback) leftoverLocked(ctx context.Context, prefix string) bool {
	out, err := l.run(ctx, "-o", "addr", "show", "dev", l.device, "to", prefix)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(out), "\n") {
		if pid, ok := l.owner(line); ok && l.leftover(pid) {
			return true
		}
	}
	return false
}

// Prune removes the IPv4 addresses on the device that a drover which is gone left behind
// (labelled with its pid) and that this Loopback does not hold; it returns them. The first
// Add prunes by itself.
func (l *Loopback) Prune(ctx context.Context) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruned = true
	return l.pruneLocked(ctx)
}

func (l *Loopback) pruneLocked(ctx context.Context) ([]string, error) {
	out, err := l.run(ctx, "-o", "-4", "addr", "show", "dev", l.device)
	if err != nil {
		return nil, fmt.Errorf("ip -o -4 addr show dev %s: %w: %s", l.device, err, bytes.TrimSpace(out))
	}
	var removed []string
	var errs []error
	for _, line := range strings.Split(string(out), "\n") {
		pid, ok := l.owner(line)
		f := strings.Fields(line)
		i := slices.Index(f, "inet")
		if !ok || !l.leftover(pid) || i < 0 || i+1 >= len(f) {
			continue
		}
		prefix := f[i+1]
		if ip, _, _ := strings.Cut(prefix, "/"); l.refs[ip] > 0 {
			continue
		}
		if out, err := l.run(ctx, "addr", "del", prefix, "dev", l.device); err != nil {
			errs = append(errs, fmt.Errorf("ip addr del %s dev %s: %w: %s", prefix, l.device, err, bytes.TrimSpace(out)))
			continue
		}
		removed = append(removed, prefix)
	}
	return removed, errors.Join(errs...)
}

// Remove takes ip off the device when its last user removes it and Add put it there (or
// took it over from a drover that is gone).
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
