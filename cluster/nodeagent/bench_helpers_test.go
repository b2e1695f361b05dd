package nodeagent

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-ci/drover/internal/proctest"
)

// Helpers of the benchmarks that run drover as separate processes.

var droverBin struct {
	once sync.Once
	path string
	err  error
}

// buildDrover builds cmd/drover with CGO_ENABLED=0 once per test process (DROVER_BIN, when
// set, names a binary to use instead).
func buildDrover(b testing.TB) string {
	b.Helper()
	droverBin.once.Do(func() {
		if p := os.Getenv("DROVER_BIN"); p != "" {
			droverBin.path = p
			return
		}
		// One fixed place, overwritten by every run, so nothing piles up in /tmp.
		dir := filepath.Join(os.TempDir(), "drover-nodeagent-bench")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			droverBin.err = err
			return
		}
		droverBin.path, droverBin.err = proctest.BuildDrover(dir)
	})
	if droverBin.err != nil {
		b.Fatal(droverBin.err)
	}
	return droverBin.path
}

// proc is a drover subprocess; its output goes to a file kept for failures.
type proc struct {
	cmd *exec.Cmd
	log string
}

// startProc runs the drover binary with args until the benchmark ends.
func startProc(b testing.TB, name string, args ...string) *proc {
	b.Helper()
	logf, err := os.CreateTemp("", "drover-bench-"+name+"-*.log")
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(buildDrover(b), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatalf("start drover %s: %v", name, err)
	}
	p := &proc{cmd: cmd, log: logf.Name()}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if !b.Failed() {
			os.Remove(logf.Name())
		} else {
			b.Logf("drover %s output kept in %s", name, logf.Name())
		}
	})
	return p
}

// tail returns the last lines of the process's output.
func (p *proc) tail() string {
	data, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// rssMB reads the resident set size of the process from /proc/PID/status.
func (p *proc) rssMB(b testing.TB) float64 { return p.statusMB(b, "VmRSS") }

// statusMB reads a kB field of /proc/PID/status (VmRSS, RssAnon, RssFile) in MB.
func (p *proc) statusMB(b testing.TB, field string) float64 {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/PID/status", field)
	return 0
}

// startServerProc runs `drover server --store memory://` on a free loopback port and returns
// its kubeconfig path and a client.
func startServerProc(b testing.TB) (string, *proc, kubernetes.Interface) {
	b.Helper()
	dir := b.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p := startProc(b, "server", "server", "--data-dir", dir, "--listen", addr, "--store", "memory://", "--log-level", "warn")
	kc := filepath.Join(dir, "kubeconfig")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(kc); err == nil {
			cfg, err := clientcmd.BuildConfigFromFlags("", kc)
			if err == nil {
				cfg.QPS, cfg.Burst = 500, 1000
				client, err := kubernetes.NewForConfig(cfg)
				if err == nil {
					if _, err = client.Discovery().ServerVersion(); err == nil {
						return kc, p, client
					}
				}
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("drover server did not come up within 60s:\n%s", p.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// percentile returns the p-th percentile (0-100, nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	i := int(float64(len(s))*p/100+0.999999) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
