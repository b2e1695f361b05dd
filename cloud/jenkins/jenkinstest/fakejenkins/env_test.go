package main

import (
	"testing"
	"time"

	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
)

func TestFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		noID    bool
		window  time.Duration
		wantErr bool
	}{
		{env: nil},
		{env: map[string]string{"FAKE_JENKINS_NO_INSTANCE_IDENTITY": "true"}, noID: true},
		{env: map[string]string{"FAKE_JENKINS_PENDING_WINDOW": "0"}, window: -1},
		{env: map[string]string{"FAKE_JENKINS_PENDING_WINDOW": "0s"}, window: -1},
		{env: map[string]string{"FAKE_JENKINS_PENDING_WINDOW": "2s"}, window: 2 * time.Second},
		{env: map[string]string{"FAKE_JENKINS_PENDING_WINDOW": "soon"}, wantErr: true},
		{env: map[string]string{"FAKE_JENKINS_NO_INSTANCE_IDENTITY": "perhaps"}, wantErr: true},
	} {
		var o jenkinstest.Options
		err := fromEnv(&o, func(k string) string { return tc.env[k] })
		if (err != nil) != tc.wantErr || o.NoInstanceIdentity != tc.noID || o.PendingWindow != tc.window {
			t.Errorf("%v: %+v, %v", tc.env, o, err)
		}
	}
}
