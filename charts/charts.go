// Package charts embeds drover's Helm-format charts (charts/jenkins), so that the drover
// binary renders the same files a user gives to `helm template` or `helm install`.
package charts

import (
	"embed"
	"io/fs"
)

//go:embed all:jenkins
var files embed.FS

// Jenkins is the jenkins chart's directory (Chart.yaml at its root).
func Jenkins() fs.FS {
	sub, err := fs.Sub(files, "jenkins")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}
