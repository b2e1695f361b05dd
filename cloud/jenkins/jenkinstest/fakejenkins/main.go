// Command fakejenkins runs the fake Jenkins 2.376 of cloud/jenkins/jenkinstest
// as a standalone server (the drover/fake-jenkins:1 image): HTTP on :8080,
// the agent port on :50000, AutoStart on, queue maintenance every 200 ms.
//
// Environment:
//
//	FAKE_JENKINS_ADMIN_DIR the directory of the admin's credentials (default
//	                       /run/secrets/jenkins-admin, where charts/jenkins mounts the
//	                       Secret jenkins-admin and its init script reads them): files user
//	                       (default admin), token (its API token: POSTs need no crumb) and
//	                       password (POSTs need a crumb, optional); user and token are
//	                       trimmed, the password is taken as it is, as the init script does
//	DROVER_ADMIN_USER, DROVER_ADMIN_TOKEN, DROVER_ADMIN_PASSWORD  used when that directory
//	                       has no token and no password (tests running the image with docker
//	                       run -e); the chart sets none of them
//	JENKINS_HOME           state directory (default /var/jenkins_home): nodes, jobs,
//	                       builds, build numbers and the queue live in
//	                       $JENKINS_HOME/drover-fake-jenkins.json, loaded at start and
//	                       rewritten on every change
//	JENKINS_ROOT_URL       root URL for Location headers and jnlp files (default: the
//	                       request's Host, as a Jenkins with no root URL configured)
//	FAKE_JENKINS_HTTP      HTTP listen address (default :8080)
//	FAKE_JENKINS_AGENT     agent listen address (default :50000)
//	JENKINS_SLAVE_AGENT_PORT  port advertised to agents (default the agent listener's)
//	FAKE_JENKINS_NO_INSTANCE_IDENTITY  true: imitate a controller without the
//	                       instance-identity plugin (the official image with the setup
//	                       wizard off): /tcpSlaveAgentListener/ offers Ping only and no
//	                       X-Instance-Identity, TCP agents are refused, WebSocket agents connect
//	FAKE_JENKINS_PENDING_WINDOW  how long a started item stays listed with
//	                       "pending": true (Go duration, default 300ms; 0 turns it off)
//
// It logs to stdout (log/slog text) and stops on SIGTERM/SIGINT after saving.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
)

// StateFileName is the state file's name inside JENKINS_HOME.
const StateFileName = "drover-fake-jenkins.json"

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stdout, nil))
	home := env("JENKINS_HOME", "/var/jenkins_home")
	port, _ := strconv.Atoi(os.Getenv("JENKINS_SLAVE_AGENT_PORT"))
	opts := jenkinstest.Options{
		Addr:      env("FAKE_JENKINS_HTTP", ":8080"),
		AgentAddr: env("FAKE_JENKINS_AGENT", ":50000"),
		AgentPort: port,
		URL:       os.Getenv("JENKINS_ROOT_URL"),
		AutoStart: true,
		StateFile: filepath.Join(home, StateFileName),
		Logger:    log,
	}
	dir := env("FAKE_JENKINS_ADMIN_DIR", "/run/secrets/jenkins-admin")
	if u, ok, err := adminUser(dir, os.Getenv); err != nil {
		log.Error("admin credentials", "err", err)
		os.Exit(2)
	} else if ok {
		opts.Users = append(opts.Users, u)
	} else {
		log.Warn("no admin token or password in " + dir + " (nor DROVER_ADMIN_TOKEN or DROVER_ADMIN_PASSWORD): only anonymous requests work")
	}
	if err := fromEnv(&opts, os.Getenv); err != nil {
		log.Error("configuration", "err", err)
		os.Exit(2)
	}
	s, err := jenkinstest.Start(opts)
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	st := s.Snapshot()
	log.Info("Jenkins is fully up and running", "version", jenkinstest.Version, "url", s.URL(),
		"agentPort", s.AgentPort(), "state", opts.StateFile, "nodes", len(st.Nodes), "jobs", len(st.Jobs),
		"instanceIdentity", !opts.NoInstanceIdentity)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	log.Info("stopping")
	s.Close()
}
