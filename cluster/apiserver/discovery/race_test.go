//go:build race

package discovery

// raceEnabled is true in a test binary built with -race: time limits allow for its slowdown.
const raceEnabled = true
