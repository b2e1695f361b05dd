package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
)

// adminUser reads the admin's credentials as charts/jenkins' init script does: the files
// user, password and token of dir (the Secret jenkins-admin's volume), user and token
// trimmed, the password as it is. With neither a password nor a token file it falls back to
// DROVER_ADMIN_USER, DROVER_ADMIN_PASSWORD and DROVER_ADMIN_TOKEN from getenv (the image run
// by hand with docker run -e). ok is false when neither gives a password or a token.
func adminUser(dir string, getenv func(string) string) (u jenkinstest.User, ok bool, err error) {
	read := func(key string) (string, bool, error) {
		b, err := os.ReadFile(filepath.Join(dir, key))
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("admin %s: %w", key, err)
		}
		return string(b), true, nil
	}
	name, hasName, err := read("user")
	if err != nil {
		return u, false, err
	}
	pw, hasPw, err := read("password")
	if err != nil {
		return u, false, err
	}
	tok, hasTok, err := read("token")
	if err != nil {
		return u, false, err
	}
	if !hasPw && !hasTok {
		name, pw, tok = getenv("DROVER_ADMIN_USER"), getenv("DROVER_ADMIN_PASSWORD"), getenv("DROVER_ADMIN_TOKEN")
		hasName = name != ""
	}
	name, tok = strings.TrimSpace(name), strings.TrimSpace(tok)
	if !hasName || name == "" {
		name = "admin"
	}
	if pw == "" && tok == "" {
		return u, false, nil
	}
	return jenkinstest.User{Name: name, Password: pw, Token: tok}, true, nil
}
