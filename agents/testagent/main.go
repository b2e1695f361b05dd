package testagent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// Main is the program: it parses os.Args and the environment (ParseArgs),
// runs the agent and returns its exit code: 143 (130) after SIGTERM (SIGINT),
// which closes the connection and kills running builds; 1 when the
// controller refuses the agent, cannot be reached, or (with -noReconnect)
// drops the connection; 2 for a bad command line; 0 after refusing
// -webSocket with -tunnel or -direct (as remoting does).
func Main() int {
	cfg, err := ParseArgs(os.Args[0], os.Args[1:], os.Getenv)
	if code, ok := optionConflict(err); ok {
		return code
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	var code atomic.Int32
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stdout, "received %s: disconnecting\n", s)
		code.Store(128 + int32(s.(syscall.Signal)))
		cancel()
	}()
	err = Run(ctx, cfg)
	if code, ok := optionConflict(err); ok {
		return code
	}
	if err != nil {
		fmt.Fprintf(os.Stdout, "SEVERE: %v\n", err)
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if ctx.Err() != nil {
		return int(code.Load())
	}
	return 0
}

// optionConflict prints an *OptionConflict as hudson.remoting.jnlp.Main
// does (the message, then its usage, on stderr) and gives its exit status 0.
func optionConflict(err error) (int, bool) {
	var oc *OptionConflict
	if !errors.As(err, &oc) {
		return 0, false
	}
	fmt.Fprintln(os.Stderr, oc.Message)
	fmt.Fprintln(os.Stderr, "java -jar agent.jar [options...] <secret key> <agent name>")
	return 0, true
}
