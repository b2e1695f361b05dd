// Command testfmt turns `go test -json` into what scripts/test.sh shows and keeps: it reads the
// test2json events on stdin as go test writes them and, line by line as they arrive,
//
//   - writes every output line to the log file (-log), a test's lines prefixed with its package
//     and test name (packages run in parallel, so their lines interleave), and
//   - prints the same lines to stdout, leaving out the === RUN/PAUSE/CONT/NAME framing and the
//     bare PASS lines, so a long run shows what it is doing while it does it.
//
// Package result lines ("ok  \tPKG\t1.2s", "FAIL\tPKG …") and build errors keep go test's
// own form and start their line, as scripts/test.sh's summary expects.
//
// It exits 0 when its input ends; go test's own exit status is the caller's to check.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is the part of a test2json event testfmt reads (see `go doc test2json`).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	logPath := flag.String("log", "", "file to write the plain go test -v text to (required)")
	module := flag.String("module", "", "module path left out of package names on the terminal")
	flag.Parse()
	if *logPath == "" {
		fmt.Fprintln(os.Stderr, "testfmt: -log is required")
		os.Exit(2)
	}
	log, err := os.Create(*logPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testfmt:", err)
		os.Exit(2)
	}
	defer log.Close()
	if err := run(os.Stdin, os.Stdout, log, *module); err != nil {
		fmt.Fprintln(os.Stderr, "testfmt:", err)
		os.Exit(1)
	}
}

// run copies events from in to the terminal (out) and the log until in ends. A line that is
// not a JSON event (go vet or build output, a panic before test2json took over) is passed
// through to both unchanged.
func run(in io.Reader, out, log io.Writer, module string) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	w := bufio.NewWriter(out)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			fmt.Fprintf(log, "%s\n", line)
			fmt.Fprintf(w, "%s\n", line)
		} else if ev.Action == "output" || ev.Action == "build-output" {
			text, framing := format(ev, module)
			fmt.Fprintln(log, text)
			if !framing {
				fmt.Fprintln(w, text)
			}
		}
		// Flush at every line: the point is to show it now, not when a buffer fills.
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return sc.Err()
}

// format returns the line to show for one output event, and whether it is framing that the
// terminal leaves out.
func format(ev event, module string) (text string, framing bool) {
	text = strings.TrimSuffix(ev.Output, "\n")
	trimmed := strings.TrimLeft(text, " ")
	for _, f := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME"} {
		if strings.HasPrefix(trimmed, f) {
			framing = true
		}
	}
	if ev.Test == "" {
		// Package level: "ok  \tpkg\t1.2s", "FAIL\tpkg …", "PASS", build errors, panics.
		return text, framing || trimmed == "PASS"
	}
	pkg := ev.Package
	if module != "" && strings.HasPrefix(pkg, module+"/") {
		pkg = strings.TrimPrefix(pkg, module+"/")
	}
	return pkg + " " + ev.Test + ": " + trimmed, framing
}
