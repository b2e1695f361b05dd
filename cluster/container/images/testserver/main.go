// Command testserver is the test image drover/testserver:1: an HTTP server on $PORT (default
// 8080) and, when $TCP_PORT is set, a TCP listener that writes "ok\n" to each connection.
//
//	GET  /healthz        200 "ok", or 500 after POST /fail (POST /ok switches back)
//	GET  /echo           the request (method, path, headers) as text
//	GET  /env            the environment, one KEY=value a line, sorted
//	GET  /file?path=P    the file P
//	POST /write?path=P&data=D   writes D to P (creating directories)
//	POST /exit?code=N    exits with code N
//	GET  /get?url=U      fetches U and answers with its status and body
//	POST /tcp-off, /tcp-on  closes and reopens the TCP listener
//	POST /burn?cpu=CORES keeps CORES of CPU busy from now on (0 stops); $BURN_CPU sets it at start
//
// It logs one line per request to stdout. On SIGTERM or SIGINT it logs "terminating", waits
// $TERM_DELAY seconds and exits 0.
//
// Exec modes (the image has no shell): "testserver probe-ok" exits 0, "testserver
// probe-fail" exits 1, "testserver probe" exits 0 when its own /healthz answers 200.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		os.Exit(execMode(os.Args[1]))
	}
	log.SetFlags(0)
	log.SetOutput(os.Stdout)
	s := newServer()
	if p := os.Getenv("TCP_PORT"); p != "" {
		s.tcpAddr = ":" + p
		if err := s.tcpOn(); err != nil {
			log.Fatalf("tcp: %v", err)
		}
	}
	if c, err := strconv.ParseFloat(os.Getenv("BURN_CPU"), 64); err == nil {
		s.burn.set(c)
	}
	go terminate()
	addr := ":" + port()
	log.Printf("listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, s.routes()))
}

func port() string {
	if p := os.Getenv("PORT"); p != "" {
		return p
	}
	return "8080"
}

func execMode(mode string) int {
	switch mode {
	case "probe-ok":
		fmt.Println("ok")
		return 0
	case "probe-fail":
		fmt.Println("fail")
		return 1
	case "probe":
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://127.0.0.1:" + port() + "/healthz")
		if err != nil {
			fmt.Println(err)
			return 1
		}
		resp.Body.Close()
		fmt.Println(resp.Status)
		if resp.StatusCode != http.StatusOK {
			return 1
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown mode %q\n", mode)
	return 2
}

func terminate() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
	log.Printf("terminating")
	if d, err := strconv.ParseFloat(os.Getenv("TERM_DELAY"), 64); err == nil {
		time.Sleep(time.Duration(d * float64(time.Second)))
	}
	os.Exit(0)
}
