package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
)

// The admin comes from the Secret's files as the chart's init script reads them (user and
// token trimmed, the password exact); the environment is only a fallback without them.
func TestAdminUser(t *testing.T) {
	env := map[string]string{"DROVER_ADMIN_USER": "envuser", "DROVER_ADMIN_TOKEN": "envtok"}
	getenv := func(k string) string { return env[k] }
	dir := t.TempDir()
	for k, v := range map[string]string{"user": "boss\n", "password": " p w\n", "token": "t0k\n"} {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	u, ok, err := adminUser(dir, getenv)
	if want := (jenkinstest.User{Name: "boss", Password: " p w\n", Token: "t0k"}); err != nil || !ok || u != want {
		t.Errorf("from files: %+v %v %v, want %+v", u, ok, err, want)
	}
	u, ok, err = adminUser(filepath.Join(dir, "missing"), getenv)
	if want := (jenkinstest.User{Name: "envuser", Token: "envtok"}); err != nil || !ok || u != want {
		t.Errorf("from env: %+v %v %v, want %+v", u, ok, err, want)
	}
	if u, ok, err = adminUser(filepath.Join(dir, "missing"), func(string) string { return "" }); err != nil || ok {
		t.Errorf("nothing: %+v %v %v", u, ok, err)
	}
	only := t.TempDir()
	_ = os.WriteFile(filepath.Join(only, "token"), []byte("tk"), 0o400)
	if u, ok, err = adminUser(only, getenv); err != nil || !ok || u != (jenkinstest.User{Name: "admin", Token: "tk"}) {
		t.Errorf("token file only: %+v %v %v", u, ok, err)
	}
}
