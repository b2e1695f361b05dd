package hollow

import (
	"testing"

	"github.com/drover-ci/drover/cluster/container/runtimetest"
)

func TestConformance(t *testing.T) {
	rt := New(Options{UnpullableImages: []string{"drover/absent:0"}})
	runtimetest.Run(t, rt, runtimetest.Options{NoTraffic: true, PullImage: "drover/other:1"})
}
