//go:build !linux

package volume

import (
	"context"
	"errors"
	"os"
)

var errNotLinux = errors.New("volumes need Linux")

func ensureTmpfs(string, os.FileMode, int64) error { return errNotLinux }
func unmountUnder(context.Context, string) error   { return errNotLinux }
func removeAllOneDevice(string) error              { return errNotLinux }
func isNotEmpty(error) bool                        { return false }
