package chart

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-ci/drover/charts"
	"github.com/drover-ci/drover/internal/uptest"
)

// The real `helm template` renders charts/jenkins exactly as this package does — the same
// documents, in the same order, byte for byte — with the default values and with values set
// on the command line (nested keys, numbers, booleans, a list).
func TestJenkinsChartMatchesHelmTemplate(t *testing.T) {
	helm := uptest.RequireHelm(t)
	c, err := Load(charts.Jenkins())
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	cases := []struct {
		name string
		sets []string
		vals map[string]any
	}{
		{name: "defaults"},
		{name: "values", sets: []string{"image=my/jenkins:2", "admin.password=pw", "admin.token=11aa", "persistence.size=20Gi",
			"livenessDelay=5", "volumePermissions=false", "createNamespace=false", "agent.webSocket=false", "javaOpts=-Xmx1g",
			"persistence.hostPath=/srv/jenkins"},
			vals: map[string]any{"extraEnv": []any{map[string]any{"name": "GREETING", "value": "hello"}}}},
		{name: "no volume, no cloud", sets: []string{"persistence.createVolume=false", "cloud=false"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"template", "jenkins", "../../charts/jenkins", "-n", "ci"}
			vals := map[string]any{}
			for _, s := range tc.sets {
				args = append(args, "--set", s)
				if err := Set(vals, s); err != nil {
					t.Fatal(err)
				}
			}
			if tc.vals != nil {
				args = append(args, "--set", "extraEnv[0].name=GREETING", "--set", "extraEnv[0].value=hello")
				for k, v := range tc.vals {
					vals[k] = v
				}
			}
			cmd := exec.Command(helm, args...)
			cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
				"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("helm %s: %v", strings.Join(args, " "), err)
			}
			docs, err := c.Render(Release{Name: "jenkins", Namespace: "ci"}, vals)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(out), Manifest(docs)); d != "" {
				t.Errorf("drover's rendering differs from helm template (-helm +drover):\n%s", d)
			}
		})
	}
}
