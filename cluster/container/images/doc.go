// Package images holds the sources of drover's test images: static Go programs that
// scripts/images.sh (or docker.BuildTestImages) compiles with CGO_ENABLED=0 into FROM-scratch
// images, so tests need no registry:
//
//   - drover/pause:1      pause/      sleeps until SIGTERM or SIGINT, then exits 0;
//   - drover/testserver:1 testserver/ an HTTP (and TCP) server for probe, network and volume tests;
//   - drover/exit:1       exit/       prints its args, sleeps $SLEEP, exits $EXIT_CODE.
//
// Each program's binary sits at /<name> in its image and is the image's entrypoint. The
// images have no shell; exec probes use the programs' own exec modes (see each main.go).
package images

// Names maps each program directory to its image reference.
var Names = map[string]string{
	"pause":      "drover/pause:1",
	"testserver": "drover/testserver:1",
	"exit":       "drover/exit:1",
}
