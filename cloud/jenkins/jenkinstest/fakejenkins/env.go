package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
)

// fromEnv applies FAKE_JENKINS_NO_INSTANCE_IDENTITY and
// FAKE_JENKINS_PENDING_WINDOW to o.
func fromEnv(o *jenkinstest.Options, getenv func(string) string) error {
	if v := getenv("FAKE_JENKINS_NO_INSTANCE_IDENTITY"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("FAKE_JENKINS_NO_INSTANCE_IDENTITY=%q: %w", v, err)
		}
		o.NoInstanceIdentity = b
	}
	if v := getenv("FAKE_JENKINS_PENDING_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if v == "0" {
			d, err = 0, nil
		}
		if err != nil {
			return fmt.Errorf("FAKE_JENKINS_PENDING_WINDOW=%q: %w", v, err)
		}
		o.PendingWindow = d
		if d == 0 {
			o.PendingWindow = -1 // off
		}
	}
	return nil
}
