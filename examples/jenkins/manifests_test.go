// Package jenkins holds examples/jenkins: the jenkins chart rendered with its default values
// as plain manifests (jenkins.yaml), for kubectl users. The test keeps them equal to the chart.
package jenkins

import (
	"flag"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-ci/drover/charts"
	"github.com/drover-ci/drover/cloud/chart"
)

var update = flag.Bool("update", false, "rewrite jenkins.yaml from the chart")

const header = `# The jenkins chart (charts/jenkins) rendered with its default values for the release
# "jenkins" in the namespace "jenkins" — generated: go test ./examples/jenkins -update.
# The Secret jenkins-admin is not included: create it first (README.md).
`

// jenkins.yaml is exactly the chart's rendering with the default values.
func TestManifestsMatchChart(t *testing.T) {
	c, err := chart.Load(charts.Jenkins())
	if err != nil {
		t.Fatal(err)
	}
	docs, err := c.Render(chart.Release{Name: "jenkins", Namespace: "jenkins"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := header + chart.Manifest(docs)
	if *update {
		if err := os.WriteFile("jenkins.yaml", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("jenkins.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("examples/jenkins/jenkins.yaml differs from the chart's rendering (go test ./examples/jenkins -update) (-chart +file):\n%s", d)
	}
}
