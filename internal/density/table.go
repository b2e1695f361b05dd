package density

import (
	"fmt"
	"strings"
)

// columns of the results table, in order.
var columns = []string{
	"step (nodes/pods)", "nodes Ready in", "stale Leases (Ready / max / end of N)", "pods Running",
	"pods/s to Running", "saturation pod startup p50 / p90 / p99", "first seen → Running p50 / p99", "create → scheduled / → started / → watch p50, p99",
	"latency pods Running", "latency pod startup p50 / p90 / p99", "latency create → scheduled / → started / → watch p50, p99",
	"latency phase CPU (server / nodes / driver)",
	"GET pod p50 / p99", "CREATE pod p50 / p99",
	"LIST namespace p50 / p99", "LIST all pods p50 / p99", "server RSS (peak)", "server CPU (per pod)",
	"hollow node RSS", "state.db", "load 1/5/15 min",
}

// Header is the markdown table's header and separator lines.
func Header() string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(columns, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat("---|", len(columns)) + "\n")
	return b.String()
}

// Row is the result as one markdown table row.
func (r *Result) Row() string {
	running := fmt.Sprintf("%d of %d in %.0f s", r.Running, r.Expected, r.Duration.Seconds())
	if !r.Finished {
		running += " (timeout)"
	}
	server, cpu := "—", "—"
	if r.Server.RSS > 0 {
		server = fmt.Sprintf("%s (%s)", fmtMB(r.Server.RSS), fmtMB(r.Server.PeakRSS))
		cpu = fmt.Sprintf("%.1f s", r.ServerCPU)
		if r.Running > 0 {
			cpu += fmt.Sprintf(" (%.0f ms)", r.ServerCPU*1000/float64(r.Running))
		}
	}
	nodeRSS := "—"
	if r.NodePIDs > 0 && r.Nodes > 0 {
		nodeRSS = fmt.Sprintf("%.2f MB/node (%s in %d processes)", float64(r.NodeRSS)/1e6/float64(r.Nodes), fmtMB(r.NodeRSS), r.NodePIDs)
	}
	latRunning := "— (" + r.LatencySkipped + ")"
	if r.LatencySkipped == "" {
		latRunning = fmt.Sprintf("%d of %d", r.LatencyRunning, r.LatencyExpected)
		if !r.LatencyFinished {
			latRunning += " (timeout)"
		}
	}
	latCPU := "—"
	if r.LatencySkipped == "" {
		c := r.LatencyCPU
		latCPU = fmt.Sprintf("%s / %s / %s cores", fmtCores(c.Server), fmtCores(c.Nodes), fmtCores(c.Driver))
	}
	db := "—"
	if r.StateDB >= 0 {
		db = fmtMB(r.StateDB)
	}
	cells := []string{
		r.Step,
		fmt.Sprintf("%.0f s", r.NodesReadyIn.Seconds()),
		fmt.Sprintf("%d / %d / %d of %d", r.StaleAtReady, r.StaleMax, r.StaleEnd, r.Leases),
		running,
		fmt.Sprintf("%.1f", rate(r.Running, r.Duration)),
		startupSummary(r.Startup), seenSummary(r.FromSeen),
		phaseSummary(r.CreateToSchedule, r.ScheduleToRun, r.RunToWatch),
		latRunning, startupSummary(r.Latency.Startup),
		phaseSummary(r.Latency.CreateToSchedule, r.Latency.ScheduleToRun, r.Latency.RunToWatch), latCPU,
		latencySummary(r.Get), latencySummary(r.Create), latencySummary(r.ListNS), latencySummary(r.ListAll),
		server, cpu, nodeRSS, db, r.Load,
	}
	return "| " + strings.Join(cells, " | ") + " |"
}

// fmtCores is CPU use in cores with two decimals ("—" when not known).
func fmtCores(c float64) string {
	if c < 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", c)
}
