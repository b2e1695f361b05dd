package config

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	const ok = "url: http://j:8080\n"
	for _, tc := range []struct {
		name string
		in   string
		want []string // each must appear in the error; none → valid
	}{
		{"minimal", ok, nil},
		{"no templates", "url: https://j\n", nil},
		{"url required", "namespace: x\n", []string{"url: required"}},
		{"url scheme", "url: ftp://j\n", []string{`url: "ftp://j": scheme must be http or https`}},
		{"url no host", "url: http://\n", []string{`url: "http://": no host`}},
		{"jenkinsUrl", ok + "jenkinsUrl: jenkins:8080\n", []string{"jenkinsUrl:"}},
		{"image required", ok + "templates: [{name: a, image: i}, {name: b}]\n", []string{"templates[1].image: required"}},
		{"name required", ok + "templates: [{image: i}]\n", []string{"templates[0].name: required"}},
		{"name with space", ok + "templates: [{name: a b, image: i}]\n", []string{"templates[0].name:"}},
		{"name upper case", ok + "templates: [{name: Docker, image: i}]\n", []string{`templates[0].name: "Docker": not a DNS-1123 label`}},
		{"name underscore", ok + "templates: [{name: my_tmpl, image: i}]\n", []string{`templates[0].name: "my_tmpl": not a DNS-1123 label`}},
		{"name leading dash", ok + "templates: [{name: -a, image: i}]\n", []string{`templates[0].name: "-a": not a DNS-1123 label`}},
		{"name 57", ok + "templates: [{name: " + strings.Repeat("a", 57) + ", image: i}]\n", nil},
		{"name 58", ok + "templates: [{name: " + strings.Repeat("a", 58) + ", image: i}]\n", []string{"templates[0].name:", "longer than 57"}},
		{"url user info", "url: http://admin:s3cret@j:8080\n", []string{"url:", "user info in the URL; put the user and API token in credentials"}},
		{"jenkinsUrl user info", ok + "jenkinsUrl: https://admin@j\n", []string{"jenkinsUrl:", "user info"}},
		{"duplicate names", ok + "templates: [{name: a, image: i}, {name: b, image: i}, {name: a, image: i}]\n",
			[]string{`templates[2].name: duplicate of templates[0].name "a"`}},
		{"bad mode", ok + "templates: [{name: a, image: i, mode: ssh}]\n", []string{`templates[0].mode: "ssh": must be one of`}},
		{"swarm mode", ok + "templates: [{name: a, image: i, mode: swarm}]\n", nil},
		{"cacheRoot absolute", ok + "cacheRoot: /srv/caches\n", nil},
		{"cacheRoot relative", ok + "cacheRoot: caches\n", []string{`cacheRoot: must be an absolute, clean path`, `"caches"`}},
		{"cacheRoot unclean", ok + "cacheRoot: /srv/../etc\n", []string{`cacheRoot: must be an absolute, clean path`}},
		{"negative caps", ok + "containerCap: -1\ntemplates: [{name: a, image: i, instanceCap: -2, idleMinutes: -1, minIdle: -3}]\n",
			[]string{"containerCap: must not be negative", "templates[0].instanceCap: must not be negative",
				"templates[0].idleMinutes: must not be negative", "templates[0].minIdle: must not be negative"}},
		{"negative timeouts", ok + "connectTimeout: -1s\ntemplates: [{name: a, image: i, pendingTimeout: -1s}]\n",
			[]string{"connectTimeout: must not be negative", "templates[0].pendingTimeout: must not be negative"}},
		{"minIdle above cap", ok + "templates: [{name: a, image: i, instanceCap: 2, minIdle: 3}]\n",
			[]string{"templates[0].minIdle: 3 exceeds instanceCap 2"}},
		{"label syntax", ok + "templates: [{name: a, image: i, label: 'docker a&&b'}]\n",
			[]string{`templates[0].label: "a&&b"`}},
		{"label ok", ok + "templates: [{name: a, image: i, label: ' docker  linux-x86_64 jdk.17 '}]\n", nil},
		{"cron fields", ok + "templates: [{name: a, image: i, warmSchedules: [{cron: '0 8 * *', duration: 1h, minIdle: 1}]}]\n",
			[]string{"templates[0].warmSchedules[0].cron: expected exactly 5 fields"}},
		{"cron value", ok + "templates: [{name: a, image: i}, {name: b, image: i, warmSchedules: [{cron: '0 8 * * 1-5', duration: 1h}, {cron: '0 25 * * *', duration: 1h}]}]\n",
			[]string{"templates[1].warmSchedules[1].cron:"}},
		{"schedule duration", ok + "templates: [{name: a, image: i, warmSchedules: [{cron: '@daily', minIdle: -1}]}]\n",
			[]string{"templates[0].warmSchedules[0].duration: must be positive", "templates[0].warmSchedules[0].minIdle: must not be negative"}},
		{"credentials", ok + "credentials: {user: u, tokenEnv: E, tokenFile: F}\n", []string{"credentials: tokenEnv and tokenFile are exclusive"}},
		{"secret", ok + "credentials: {secret: jenkins-admin}\n", nil},
		{"secret and user", ok + "credentials: {user: u, secret: jenkins-admin}\n", nil},
		{"secret exclusive", ok + "credentials: {secret: s, tokenEnv: E}\n", []string{"credentials: secret, tokenEnv and tokenFile are exclusive"}},
		{"secret name", ok + "credentials: {secret: a/b}\n", []string{`credentials.secret: "a/b": not a Secret name`}},
		{"secret name upper case", ok + "credentials: {secret: Admin}\n", []string{`credentials.secret: "Admin": not a Secret name`}},
		{"secret name dotted", ok + "credentials: {secret: jenkins.admin}\n", nil},
		{"user without token", ok + "credentials: {user: u}\n", []string{"credentials: user without tokenEnv or tokenFile"}},
		{"caches ok", ok + "templates: [{name: a, image: i, caches: [{name: m2, mountPath: /home/jenkins/.m2, size: 5Gi}]}]\n", nil},
		{"cache fields", ok + "templates: [{name: a, image: i, caches: [{name: M2}, {name: x, mountPath: rel, size: 1Gi}]}]\n",
			[]string{`templates[0].caches[0].name: "M2": not a DNS-1123 label`, "templates[0].caches[0].mountPath: required",
				"templates[0].caches[0].size: required", `templates[0].caches[1].mountPath: "rel": must be an absolute path`}},
		{"cache duplicates", ok + "templates: [{name: a, image: i, caches: [{name: m, mountPath: /c, size: 1Gi}, {name: m, mountPath: /c/, size: 1Gi}]}]\n",
			[]string{"templates[0].caches[1].name: duplicate of templates[0].caches[0].name", "templates[0].caches[1].mountPath: duplicate"}},
		{"cache on workspace", ok + "templates: [{name: a, image: i, caches: [{name: m, mountPath: /home/jenkins/agent, size: 1Gi}]}]\n",
			[]string{"templates[0].caches[0].mountPath:", "is remoteFS"}},
		{"serviceAccount", ok + "templates: [{name: a, image: i, serviceAccount: jenkins-builds, automountServiceAccountToken: true}]\n", nil},
		{"serviceAccount name", ok + "templates: [{name: a, image: i}, {name: b, image: i, serviceAccount: Builder_1}]\n",
			[]string{`templates[1].serviceAccount: "Builder_1": not a ServiceAccount name`}},
		{"retryLostBuilds", ok + "templates: [{name: a, image: i, retryLostBuilds: -1}]\n", []string{"templates[0].retryLostBuilds: must not be negative"}},
		{"all problems joined", "templates: [{name: a}, {name: a, mode: x}]\n",
			[]string{"url: required", "templates[0].image: required", "templates[1].image: required",
				"templates[1].name: duplicate", "templates[1].mode:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v\nwant it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Validate shows the token: %v", err)
			}
			if got := len(strings.Split(err.Error(), "\n")); got != countPaths(tc.want) {
				t.Errorf("Validate gave %d problems, want %d: %v", got, len(tc.want), err)
			}
		})
	}
}

// countPaths is the number of problems tc.want names: the entries naming a
// field path (ending in ':' or containing ': ').
func countPaths(want []string) int {
	n := 0
	for _, w := range want {
		if strings.HasSuffix(w, ":") || strings.Contains(w, ": ") {
			n++
		}
	}
	return n
}

func TestWarnings(t *testing.T) {
	const base = "url: http://j:8080\njenkinsTunnel: j:50000\n"
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"inbound with tunnel", base + "templates: [{name: a, image: i}]\n", nil},
		{"mode websocket", base + "templates: [{name: a, image: i}, {name: b, image: i, mode: websocket}]\n",
			[]string{"templates[1].mode: websocket agents ignore jenkinsTunnel"}},
		{"template webSocket", base + "templates: [{name: a, image: i, webSocket: true}]\n",
			[]string{"templates[0].webSocket: websocket agents ignore jenkinsTunnel"}},
		{"global webSocket", base + "webSocket: true\ntemplates: [{name: a, image: i}, {name: s, image: i, mode: swarm}]\n",
			[]string{"webSocket: websocket agents of templates[0] (a) ignore jenkinsTunnel"}},
		{"no tunnel", "url: http://j:8080\ntemplates: [{name: a, image: i, mode: websocket}]\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v (a warning is not an error)", err)
			}
			got := c.Warnings()
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("Warnings = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	c, err := Load([]byte("url: http://j\ntemplates: [{name: a, image: i}, {name: b, image: i, retryLostBuilds: 0}, {name: c, image: i, retryLostBuilds: 3}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{DefaultRetryLostBuilds, 0, 3} {
		if got := c.Templates[i].Retries(); got != want {
			t.Errorf("templates[%d].Retries() = %d, want %d", i, got, want)
		}
	}
}
