// Command pause is a pod's infra container: it holds the pod's namespaces and does nothing
// else. It sleeps until SIGTERM or SIGINT and then exits 0.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
}
