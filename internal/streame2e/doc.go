// Package streame2e holds the end-to-end checks of issue 15 (into the pods): real kubectl
// against `drover up` on the real Docker engine for exec (stdout and stderr, exit codes, stdin,
// a terminal and its resizes, -c, clear errors), cp, port-forward over WebSocket and SPDY,
// attach, the service proxy behind `kubectl proxy`, and the node agent port's refusal of
// anyone but the API server; and the exec and port-forward benchmarks.
package streame2e
