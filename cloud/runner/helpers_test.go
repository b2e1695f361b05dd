package runner

import (
	"testing"

	"github.com/drover-ci/drover/cloud/config"
)

func mustLoad(t *testing.T, s string) *config.Config {
	t.Helper()
	c, err := config.Load([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}
