package app

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
)

func newCpCommand(s Streams, cf *clientFlags) *cobra.Command {
	var container string
	cmd := &cobra.Command{
		Use:   "cp SRC DST",
		Short: "Copy files and directories to and from a container (kubectl cp: tar through exec; the container needs tar)",
		Example: `  drover cp jenkins/jenkins-0:/var/jenkins_home/heapdump.hprof ./heapdump.hprof
  drover cp ./plugins jenkins-0:/tmp/plugins -c jenkins`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect()
			if err != nil {
				return err
			}
			src, dst := parseCpSpec(args[0]), parseCpSpec(args[1])
			switch {
			case src.pod == "" && dst.pod != "":
				return copyTo(cmd.Context(), c, args[0], dst, container, s)
			case src.pod != "" && dst.pod == "":
				return copyFrom(cmd.Context(), c, src, args[1], container, s)
			}
			return errors.New("one of SRC and DST must be [NAMESPACE/]POD:PATH, the other a local path")
		},
	}
	cmd.Flags().StringVarP(&container, "container", "c", "", "container name (default: the pod's first)")
	return cmd
}

// cpSpec is [NAMESPACE/]POD:PATH (pod empty: a local path).
type cpSpec struct{ namespace, pod, path string }

func parseCpSpec(arg string) cpSpec {
	ref, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return cpSpec{path: arg}
	}
	if ns, pod, ok := strings.Cut(ref, "/"); ok {
		return cpSpec{namespace: ns, pod: pod, path: p}
	}
	return cpSpec{pod: ref, path: p}
}

// execStreams runs command in the pod with the given streams.
func execStreams(ctx context.Context, c *clients, spec cpSpec, container string, command []string, opts remotecommand.StreamOptions) error {
	if spec.namespace != "" {
		c.namespace = spec.namespace
	}
	container, err := defaultContainer(ctx, c, spec.pod, container)
	if err != nil {
		return err
	}
	req := c.typed.CoreV1().RESTClient().Post().Resource("pods").Namespace(c.namespace).Name(spec.pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: command, Stdin: opts.Stdin != nil, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := newExecutor(c.config, req.URL().String())
	if err != nil {
		return err
	}
	return ex.StreamWithContext(ctx, opts)
}

// copyTo tars the local path and untars it in the pod as dst.path (kubectl cp's way: the
// archive's top entry is renamed to the destination's base name).
func copyTo(ctx context.Context, c *clients, local string, dst cpSpec, container string, s Streams) error {
	if _, err := os.Stat(local); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, local, path.Base(dst.path))) }()
	var errOut bytes.Buffer
	err := execStreams(ctx, c, dst, container, []string{"tar", "-xmf", "-", "-C", path.Dir(dst.path)},
		remotecommand.StreamOptions{Stdin: pr, Stdout: s.Out, Stderr: &errOut})
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(errOut.String()))
	}
	return nil
}

// writeTar writes root (a file or a directory tree) as name into a tar stream.
func writeTar(w io.Writer, root, name string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() && !info.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = path.Join(name, filepath.ToSlash(rel))
		if info.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// copyFrom tars src.path in the pod and unpacks it locally as local.
func copyFrom(ctx context.Context, c *clients, src cpSpec, local string, container string, s Streams) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- readTar(pr, path.Base(src.path), local) }()
	var errOut bytes.Buffer
	err := execStreams(ctx, c, src, container, []string{"tar", "cf", "-", "-C", path.Dir(src.path), path.Base(src.path)},
		remotecommand.StreamOptions{Stdout: pw, Stderr: &errOut})
	pw.CloseWithError(err)
	if terr := <-done; err == nil {
		err = terr
	}
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(errOut.String()))
	}
	return nil
}

// readTar unpacks the entries under prefix as local, refusing paths that leave it.
func readTar(r io.Reader, prefix, local string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			_, _ = io.Copy(io.Discard, r)
			return nil
		}
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(path.Clean(hdr.Name), prefix), "/")
		if strings.HasPrefix(rel, "..") || path.IsAbs(rel) {
			return fmt.Errorf("tar entry %q leaves the destination", hdr.Name)
		}
		target := filepath.Join(local, filepath.FromSlash(rel))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fs.FileMode(hdr.Mode)&0o777)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
	}
}
