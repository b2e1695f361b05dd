//go:build !linux

package volume

import (
	"context"
	"errors"
	"os"

	corev1 "k8s.io/api/core/v1"
)

var errNotLinux = errors.New("volumes need Linux")

func ensureTmpfs(string, os.FileMode, int64) error { return errNotLinux }
func unmountUnder(context.Context, string) error   { return errNotLinux }
func removeAllOneDevice(string) error              { return errNotLinux }
func isNotEmpty(error) bool                        { return false }

const syscallNoFollow = 0

func bindSubPath(string, string, string) (string, error) { return "", errNotLinux }

func setOwnership(string, int64, *corev1.PodFSGroupChangePolicy, bool) error { return errNotLinux }
