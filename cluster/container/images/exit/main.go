// Command exit is the test image drover/exit:1: it prints each argument on its own line to
// stdout, sleeps $SLEEP seconds (fractions allowed), and exits with $EXIT_CODE (default 0).
//
// Environment:
//
//	SLEEP        seconds to sleep before exiting ("inf": forever)
//	EXIT_CODE    exit code
//	ALLOC_MB     allocate and touch this many MiB first (to trigger the OOM killer)
//	ALLOC_DELAY  seconds to wait before allocating (the engine's OOM watch on the container
//	             is set up after it starts: an OOM kill before that is not reported as one)
//	IGNORE_TERM  "1": ignore SIGTERM and SIGINT (so Stop must kill)
//	TERM_CODE    exit code after SIGTERM/SIGINT (default 0)
//
// On SIGTERM or SIGINT it prints "signal: SIGTERM" (or SIGINT) and exits $TERM_CODE.
//
// Exec modes (the image has no shell), chosen by the first argument:
//
//	exit exec CODE SLEEP WORDS...   print WORDS one a line, sleep SLEEP seconds, exit CODE
//	exit env                        print the environment, one KEY=value a line, sorted
package main

import (
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"syscall"
	"time"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "exec" {
		execMode(args[1:])
		return
	}
	if len(args) == 1 && args[0] == "env" {
		env := os.Environ()
		sort.Strings(env)
		for _, kv := range env {
			fmt.Println(kv)
		}
		return
	}
	handleSignals()
	if mb := atoi(os.Getenv("ALLOC_MB")); mb > 0 {
		sleep(os.Getenv("ALLOC_DELAY"))
		allocate(mb)
	}
	for _, a := range args {
		fmt.Println(a)
	}
	if s := os.Getenv("SLEEP"); s == "inf" {
		select {}
	} else {
		sleep(s)
	}
	os.Exit(atoi(os.Getenv("EXIT_CODE")))
}

func execMode(args []string) {
	code, wait := 0, ""
	if len(args) > 0 {
		code, args = atoi(args[0]), args[1:]
	}
	if len(args) > 0 {
		wait, args = args[0], args[1:]
	}
	for _, a := range args {
		fmt.Println(a)
	}
	sleep(wait)
	os.Exit(code)
}

func handleSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	ignore := os.Getenv("IGNORE_TERM") == "1"
	go func() {
		for s := range ch {
			name := "SIGTERM"
			if s == syscall.SIGINT {
				name = "SIGINT"
			}
			fmt.Println("signal: " + name)
			if !ignore {
				os.Exit(atoi(os.Getenv("TERM_CODE")))
			}
		}
	}()
}

var hold [][]byte

func allocate(mb int) {
	for i := 0; i < mb; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte(j)
		}
		hold = append(hold, b)
	}
}

func sleep(s string) {
	if s == "" {
		return
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bad SLEEP %q\n", s)
		os.Exit(2)
	}
	time.Sleep(time.Duration(f * float64(time.Second)))
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
