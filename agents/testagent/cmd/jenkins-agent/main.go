// Command jenkins-agent is the test agent of agents/testagent: the entrypoint
// of the drover/jenkins-agent-test:1 image, also installed there as
// /usr/bin/java and /usr/local/bin/swarm-client (it behaves by argv[0]).
package main

import (
	"os"

	"github.com/drover-ci/drover/agents/testagent"
)

func main() { os.Exit(testagent.Main()) }
