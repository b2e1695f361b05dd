package app

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The client flags come from flags, else DROVER_* variables, else the --config file.
func TestConfigSources(t *testing.T) {
	api := newFakeAPI(t)
	var paths []string
	for _, ns := range []string{"flag", "env", "file", "team"} {
		api.handle("GET /api/v1/namespaces/"+ns+"/pods", func(w http.ResponseWriter, r *http.Request) {
			paths = append(paths, ns)
			writeJSON(w, 200, podTable(t))
		})
	}
	kc := writeKubeconfig(t, api.URL)
	cfg := filepath.Join(t.TempDir(), "drover.yaml")
	if err := os.WriteFile(cfg, []byte("namespace: file\nkubeconfig: "+kc+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		var out bytes.Buffer
		if err := Run(t.Context(), args, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &out}); err != nil {
			t.Fatalf("%v: %v (%s)", args, err, out.String())
		}
	}
	run("get", "pods", "--kubeconfig", kc) // kubeconfig context namespace
	run("get", "pods", "--config", cfg)    // file
	t.Setenv("DROVER_NAMESPACE", "env")
	run("get", "pods", "--config", cfg)               // env beats file
	run("get", "pods", "--config", cfg, "-n", "flag") // flag beats env
	t.Setenv("DROVER_CONFIG", cfg)
	t.Setenv("DROVER_NAMESPACE", "")
	os.Unsetenv("DROVER_NAMESPACE")
	run("get", "pods") // DROVER_CONFIG names the file
	want := "team file env flag file"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("namespaces used: %q, want %q", got, want)
	}
}

func TestCompletionAndVersion(t *testing.T) {
	var out bytes.Buffer
	s := Streams{In: strings.NewReader(""), Out: &out, ErrOut: &out}
	if err := Run(t.Context(), []string{"completion", "bash"}, s); err != nil || !strings.Contains(out.String(), "__start_drover") {
		t.Errorf("completion bash: %v\n%.200s", err, out.String())
	}
	if err := Run(t.Context(), []string{"completion", "tcsh"}, s); err == nil {
		t.Error("completion accepted an unknown shell")
	}
	out.Reset()
	if err := Run(t.Context(), []string{"version", "--client"}, s); err != nil || !strings.HasPrefix(out.String(), "Client Version: ") {
		t.Errorf("version --client: %v %q", err, out.String())
	}
}
