package e2e_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/internal/uptest"
)

// BenchmarkAgentsFromQueue measures, on real Docker with the fake Jenkins, the time from
// queuing builds to their agents being connected and building them: one build, then 20 at
// once (target: 20 within 2 × the time of one), and how many agents are left once the queue
// has drained (target 0). "Connected" is read as "its build started": a one-shot agent is
// marked temporarily offline (offline in Jenkins' API) as soon as it takes its build.
func BenchmarkAgentsFromQueue(b *testing.B) {
	e := startCloud(b, "jbench", 62, "32800-32999", `- name: docker
  label: docker
  image: `+agentImage+`
  idleMinutes: 0
  instanceCap: 25
`)
	e.api.createJob(b, "hold", "docker", "sleep 5")
	next := 1 // the next build number of job hold
	connected := func(n int) time.Duration {
		start := time.Now()
		for range n {
			e.api.build(b, "hold")
		}
		first := next
		next += n
		uptest.Eventually(b, 3*time.Minute, fmt.Sprintf("%d agents connected and building", n), func() bool {
			for i := first; i < first+n; i++ {
				if bi, ok := e.api.buildInfo("hold", i); !ok || bi.BuiltOn == "" {
					return false
				}
			}
			return true
		})
		return time.Since(start)
	}
	drained := func() {
		uptest.Eventually(b, 3*time.Minute, "the queue drained and the agents gone", func() bool {
			names, _, _ := e.api.computers()
			return e.api.queueLen() == 0 && len(names) == 0 && len(agentPods(b, e.up.Client, "default", "docker")) == 0
		})
	}
	var one, twenty time.Duration
	left := 0
	for i := 0; i < b.N; i++ {
		one += connected(1)
		drained()
		twenty += connected(20)
		// Give the reaper a few polls after the last build ended before counting.
		uptest.Eventually(b, 3*time.Minute, "the 20 builds to end", func() bool { return e.api.queueLen() == 0 && allEnded(e.api, "hold") })
		time.Sleep(5 * time.Second)
		names, _, _ := e.api.computers()
		left += max(len(names), len(agentPods(b, e.up.Client, "default", "docker")))
		drained()
	}
	logStages(b, e)
	n := float64(b.N)
	b.ReportMetric(one.Seconds()/n, "s/one-agent")
	b.ReportMetric(twenty.Seconds()/n, "s/twenty-agents")
	b.ReportMetric(twenty.Seconds()/one.Seconds(), "twenty/one")
	b.ReportMetric(float64(left)/n, "agents-left")
}

// allEnded reports whether every build of job has ended.
func allEnded(j jenkinsAPI, job string) bool {
	for i := 1; ; i++ {
		bi, ok := j.buildInfo(job, i)
		if !ok {
			return i > 1
		}
		if bi.Building || bi.Result == "" {
			return false
		}
	}
}

// logStages logs the mean of each provisioning stage from drover's /metrics.
func logStages(b *testing.B, e *cloudEnv) {
	raw, err := e.up.Client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Logf("/metrics: %v", err)
		return
	}
	sum, count := map[string]float64{}, map[string]float64{}
	for _, line := range strings.Split(string(raw), "\n") {
		name, rest, ok := strings.Cut(line, "{")
		if !ok || !strings.HasPrefix(name, "drover_jenkins_provisioning_stage_seconds_") {
			continue
		}
		labels, val, _ := strings.Cut(rest, "} ")
		stage := labels[strings.Index(labels, "stage=\"")+7:]
		stage = stage[:strings.Index(stage, "\"")]
		v, _ := strconv.ParseFloat(strings.TrimSpace(val), 64)
		switch {
		case strings.HasSuffix(name, "_sum"):
			sum[stage] += v
		case strings.HasSuffix(name, "_count"):
			count[stage] += v
		}
	}
	for _, st := range []string{"decided", "pod_created", "running", "connected", "build_started"} {
		if count[st] > 0 {
			b.Logf("stage %-13s mean %6.3f s over %3.0f agents", st, sum[st]/count[st], count[st])
		}
	}
}
