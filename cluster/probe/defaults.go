package probe

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Kubernetes' probe defaults, used where a field is zero.
const (
	DefaultTimeoutSeconds   = 1
	DefaultPeriodSeconds    = 10
	DefaultSuccessThreshold = 1
	DefaultFailureThreshold = 3
)

// Timeout is p's timeoutSeconds (default 1 s).
func Timeout(p *corev1.Probe) time.Duration { return seconds(p.TimeoutSeconds, DefaultTimeoutSeconds) }

// Period is p's periodSeconds (default 10 s).
func Period(p *corev1.Probe) time.Duration { return seconds(p.PeriodSeconds, DefaultPeriodSeconds) }

// InitialDelay is p's initialDelaySeconds (default 0).
func InitialDelay(p *corev1.Probe) time.Duration { return seconds(p.InitialDelaySeconds, 0) }

// SuccessThreshold is p's successThreshold (default 1).
func SuccessThreshold(p *corev1.Probe) int {
	return positive(p.SuccessThreshold, DefaultSuccessThreshold)
}

// FailureThreshold is p's failureThreshold (default 3).
func FailureThreshold(p *corev1.Probe) int {
	return positive(p.FailureThreshold, DefaultFailureThreshold)
}

func seconds(v, def int32) time.Duration { return time.Duration(positive(v, def)) * time.Second }

func positive(v, def int32) int {
	if v <= 0 {
		return int(def)
	}
	return int(v)
}
