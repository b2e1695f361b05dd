package job

import "github.com/drover-ci/drover/cluster/controller"

// ExpectationsTimeout is controller.ExpectationsTimeout (kept for this package's callers).
const ExpectationsTimeout = controller.ExpectationsTimeout

// expectations are the shared controller.Expectations.
type expectations = controller.Expectations

var newExpectations = controller.NewExpectations
