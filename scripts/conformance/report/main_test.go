package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A ginkgo v2 JSON report (the fields the table reads, as ginkgo writes them): specs of two SIGs
// that ran, one SIG filtered out entirely, a non-conformance spec and a suite node.
const sample = `[{"SuiteDescription":"Kubernetes e2e suite","SpecReports":[
 {"ContainerHierarchyTexts":["[sig-node] Pods"],"LeafNodeText":"should get a host IP [NodeConformance] [Conformance]","LeafNodeType":"It","State":"passed"},
 {"ContainerHierarchyTexts":["[sig-node] Pods"],"LeafNodeText":"should be updated [NodeConformance] [Conformance]","LeafNodeType":"It","State":"failed","Failure":{"Message":"\n  timed out waiting for the condition\n  more"}},
 {"ContainerHierarchyTexts":["[sig-node] Pods"],"LeafNodeText":"should run privileged [Conformance]","LeafNodeType":"It","State":"skipped"},
 {"ContainerHierarchyTexts":["[sig-apps] Job"],"LeafNodeText":"should run a job to completion [Conformance]","LeafNodeType":"It","State":"passed"},
 {"ContainerHierarchyTexts":["[sig-cli] Kubectl"],"LeafNodeText":"should create [Conformance]","LeafNodeType":"It","State":"skipped"},
 {"ContainerHierarchyTexts":["[sig-node] Pods"],"LeafNodeText":"not conformance","LeafNodeType":"It","State":"failed"},
 {"LeafNodeType":"SynchronizedBeforeSuite","State":"passed"}
]}]`

func TestTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(path, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"| sig-apps | 1 | 0 | 0 |",
		"| sig-node | 1 | 1 | 1 |",
		"| **all** | **2** | **1** | **1** |",
		"Failures (1):",
		"* [sig-node] Pods should be updated [NodeConformance] [Conformance] — failed: timed out waiting for the condition",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "sig-cli") {
		t.Errorf("a SIG the run filtered out is in the table:\n%s", got)
	}
}

func TestNotAReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(path, []byte("<html>"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(path, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "not a ginkgo JSON report") {
		t.Fatalf("err = %v, want a clear error", err)
	}
}
