package density

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's utime and stime: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// procUsage is what /proc says about one process.
type procUsage struct {
	RSS     int64 // bytes resident now (VmRSS)
	PeakRSS int64 // bytes resident at most (VmHWM)
	CPU     float64
}

// readProc reads pid's RSS, peak RSS and CPU seconds (user + system) from /proc.
func readProc(pid int) (procUsage, error) {
	var u procUsage
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, fmt.Errorf("process %d: %w", pid, err)
	}
	if u.RSS, err = statusKB(string(status), "VmRSS"); err != nil {
		return u, fmt.Errorf("process %d: %w", pid, err)
	}
	if u.PeakRSS, err = statusKB(string(status), "VmHWM"); err != nil {
		return u, fmt.Errorf("process %d: %w", pid, err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, fmt.Errorf("process %d: %w", pid, err)
	}
	if u.CPU, err = statCPUSeconds(string(stat)); err != nil {
		return u, fmt.Errorf("process %d: %w", pid, err)
	}
	return u, nil
}

// statusKB is the value of a "Key:  1234 kB" line of /proc/PID/status, in bytes.
func statusKB(status, key string) (int64, error) {
	for line := range strings.SplitSeq(status, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != key {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc status %s: unexpected %q", key, strings.TrimSpace(v))
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc status %s: %w", key, err)
		}
		return n * 1024, nil
	}
	return 0, fmt.Errorf("/proc status: no %s line", key)
}

// statCPUSeconds is utime + stime of a /proc/PID/stat line, in seconds. The command name, in
// parentheses, may hold spaces and parentheses: the fields are counted after its last ")".
func statCPUSeconds(stat string) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat: no command name in %q", stat)
	}
	// After ") ": state(3) ppid(4) ... utime(14) stime(15), so utime is the 12th field here.
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc stat: utime %q stime %q not numbers", f[11], f[12])
	}
	return float64(ut+st) / clockTicks, nil
}

// loadAverage is the first three fields of /proc/loadavg ("4.08 3.50 1.81"), or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// exited reports whether process pid is gone or a zombie (exited, not yet reaped).
func exited(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && strings.HasPrefix(strings.TrimLeft(s[i+1:], " "), "Z")
}
