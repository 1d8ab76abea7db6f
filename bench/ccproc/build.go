// Package ccproc runs ccproxy as a child process for the benchmark and soak
// harnesses: it builds ./cmd/ccproxy (or another main package that takes
// HOST and PORT and answers GET /health, such as bench/cmd/hop), starts
// the binary on a free 127.0.0.1 port with a clean environment, waits
// until GET /health answers, keeps its output in a log file, stops it, and reads its CPU
// time and memory from /proc (Linux only).
package ccproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
)

// ModuleRoot walks up from the working directory to the directory holding
// go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Build builds ./cmd/ccproxy of the module at root into dir, with the
// given build tags ("" for none), and returns the binary's path.
func Build(ctx context.Context, root, dir, tags string) (string, error) {
	return BuildPackage(ctx, root, dir, "./cmd/ccproxy", tags)
}

// BuildPackage builds the main package pkg (a path relative to root, such
// as ./bench/cmd/hop) of the module at root into dir, named after the
// package's last element, with the given build tags ("" for none), and
// returns the binary's path. It builds as `make build` does: static, without
// cgo (libc alone is 2 MB of resident memory).
func BuildPackage(ctx context.Context, root, dir, pkg, tags string) (string, error) {
	bin := filepath.Join(dir, path.Base(pkg))
	args := []string{"build", "-o", bin}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
