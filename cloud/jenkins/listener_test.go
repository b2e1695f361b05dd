package jenkins_test

import (
	"testing"

	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
)

func TestAgentListenerAgainstFake(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   jenkinstest.Options
		check  func(*jenkinstest.Server, jenkins.AgentListener) bool
		offers bool
	}{
		{"default", jenkinstest.Options{}, func(s *jenkinstest.Server, l jenkins.AgentListener) bool {
			return l.Enabled && l.Port == s.AgentPort() && len(l.Protocols) == 2 && l.Protocols[0] == "JNLP4-connect" &&
				l.Protocols[1] == "Ping" && l.InstanceIdentity != ""
		}, true},
		{"no instance identity", jenkinstest.Options{NoInstanceIdentity: true}, func(s *jenkinstest.Server, l jenkins.AgentListener) bool {
			return l.Enabled && l.Port == s.AgentPort() && len(l.Protocols) == 1 && l.Protocols[0] == "Ping" && l.InstanceIdentity == ""
		}, false},
		{"agent port disabled", jenkinstest.Options{DisableAgentPort: true}, func(s *jenkinstest.Server, l jenkins.AgentListener) bool {
			return !l.Enabled && l.Port == 0 && l.Protocols == nil
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Users = []jenkinstest.User{{Name: user, Password: password, Token: token}}
			srv, err := jenkinstest.Start(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			c, err := jenkins.NewGojenkins(ctx(t), jenkins.Config{URL: srv.URL(), User: user, APIToken: token})
			if err != nil {
				t.Fatal(err)
			}
			l, err := c.AgentListener(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(srv, l) || l.OffersJNLP4() != tc.offers {
				t.Errorf("listener %+v (offers JNLP4 %v, want %v)", l, l.OffersJNLP4(), tc.offers)
			}
		})
	}
}
