// Command report turns ginkgo's JSON report of a conformance run (scripts/conformance.sh) into
// the table docs/conformance.md records: passed / failed / skipped per SIG for the
// [Conformance] specs of the SIGs the run covered, then each failure with its one-line reason.
//
//	go run ./scripts/conformance/report RESULTS/report.json
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

// The parts of ginkgo v2's types.Report this table needs.
type report struct {
	SpecReports []spec `json:"SpecReports"`
}

type spec struct {
	ContainerHierarchyTexts []string `json:"ContainerHierarchyTexts"`
	LeafNodeText            string   `json:"LeafNodeText"`
	LeafNodeType            string   `json:"LeafNodeType"`
	State                   string   `json:"State"`
	Failure                 struct {
		Message string `json:"Message"`
	} `json:"Failure"`
}

func (s spec) name() string {
	return strings.TrimSpace(strings.Join(append(append([]string{}, s.ContainerHierarchyTexts...), s.LeafNodeText), " "))
}

var sigRE = regexp.MustCompile(`\[sig-[a-z-]+\]`)

type counts struct{ passed, failed, skipped int }

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: report REPORT.json")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(path string, w io.Writer) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var reports []report
	if err := json.Unmarshal(b, &reports); err != nil {
		return fmt.Errorf("%s: not a ginkgo JSON report: %w", path, err)
	}
	bySIG := map[string]*counts{}
	ran := map[string]bool{} // SIGs with at least one spec that ran: the ones the focus covered
	var failures []string
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType != "" && s.LeafNodeType != "It" {
				continue // suite setup and teardown nodes
			}
			name := s.name()
			if !strings.Contains(name, "[Conformance]") {
				continue
			}
			sig := sigRE.FindString(name)
			if sig == "" {
				sig = "[sig-none]"
			}
			c := bySIG[sig]
			if c == nil {
				c = &counts{}
				bySIG[sig] = c
			}
			switch s.State {
			case "passed":
				c.passed++
				ran[sig] = true
			case "skipped", "pending":
				c.skipped++
			default: // failed, panicked, timedout, interrupted, aborted
				c.failed++
				ran[sig] = true
				failures = append(failures, fmt.Sprintf("* %s — %s: %s", name, s.State, firstLine(s.Failure.Message)))
			}
		}
	}
	var sigs []string
	for sig := range bySIG {
		if ran[sig] {
			sigs = append(sigs, sig)
		}
	}
	sort.Strings(sigs)
	var total counts
	fmt.Fprintln(w, "| SIG | passed | failed | skipped |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	for _, sig := range sigs {
		c := bySIG[sig]
		fmt.Fprintf(w, "| %s | %d | %d | %d |\n", strings.Trim(sig, "[]"), c.passed, c.failed, c.skipped)
		total.passed += c.passed
		total.failed += c.failed
		total.skipped += c.skipped
	}
	fmt.Fprintf(w, "| **all** | **%d** | **%d** | **%d** |\n", total.passed, total.failed, total.skipped)
	if len(failures) > 0 {
		sort.Strings(failures)
		fmt.Fprintf(w, "\nFailures (%d):\n\n%s\n", len(failures), strings.Join(failures, "\n"))
	}
	return nil
}

// firstLine is the first non-empty line of a failure message, shortened to 200 characters.
func firstLine(msg string) string {
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if len(l) > 200 {
				l = l[:200] + "…"
			}
			return l
		}
	}
	return "(no message)"
}
