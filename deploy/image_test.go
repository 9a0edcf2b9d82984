package deploy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildahArgs are the global flags every buildah call uses: vfs storage works
// without overlay support in this sandbox.
var buildahArgs = []string{"--storage-driver", "vfs"}

// requireBuildah skips the test without buildah and root, unless
// ENSIGN_IMAGE_TEST=1 (set by CI) makes that a failure.
func requireBuildah(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("buildah")
	switch {
	case err == nil && os.Geteuid() == 0:
		return
	case os.Getenv("ENSIGN_IMAGE_TEST") == "1":
		t.Fatalf("ENSIGN_IMAGE_TEST=1 but buildah is missing or not root (%v, uid %d): apt-get install -y buildah", err, os.Geteuid())
	default:
		t.Skip("image test skipped: needs buildah and root (apt-get install -y buildah; ENSIGN_IMAGE_TEST=1 makes this a failure)")
	}
}

func buildah(ctx context.Context, t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, "buildah", append(buildahArgs, args...)...).Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// TestImage builds the image with `make image`, checks its configuration
// (non-root entrypoint, no shell) and runs `ensign version` and `ensign
// config` from the image's own root filesystem as user 65532.
func TestImage(t *testing.T) {
	requireBuildah(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	image := fmt.Sprintf("localhost/ensign-test:%d", time.Now().UnixNano())
	mk := exec.CommandContext(ctx, "make", "-C", "..", "image", "IMAGE="+image, "VERSION=v0.0.0-test", "COMMIT=0123abc")
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("buildah", append(buildahArgs, "rmi", "-f", image)...).Run() })

	cfg := buildah(ctx, t, "inspect", "--type", "image", "--format", "{{.OCIv1.Config.Entrypoint}} {{.OCIv1.Config.User}}", image)
	if cfg != "[/ensign] 65532:65532" {
		t.Fatalf("image entrypoint and user: %q, want [/ensign] 65532:65532", cfg)
	}
	c := buildah(ctx, t, "from", image)
	t.Cleanup(func() { _ = exec.Command("buildah", append(buildahArgs, "rm", c)...).Run() })
	root := buildah(ctx, t, "mount", c)
	t.Cleanup(func() { _ = exec.Command("buildah", append(buildahArgs, "umount", c)...).Run() })

	for _, sh := range []string{"bin/sh", "bin/bash", "usr/bin/env"} {
		if _, err := os.Stat(filepath.Join(root, sh)); err == nil {
			t.Errorf("the image has /%s; it must have no shell", sh)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt")); err != nil || fi.Size() < 1000 {
		t.Errorf("CA certificates in the image: %v", err)
	}
	runInImage := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "chroot", append([]string{"--userspec=65532:65532", root, "/ensign"}, args...)...)
		cmd.Env = []string{"HOME=/home/ensign"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ensign %s in the image: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := runInImage("version"); !strings.Contains(out, "ensign v0.0.0-test") || !strings.Contains(out, "commit 0123abc") {
		t.Errorf("ensign version in the image:\n%s\nwant version v0.0.0-test and commit 0123abc from the ldflags", out)
	}
	if out := runInImage("config"); !strings.Contains(out, "ENSIGN_GITEA_URL") {
		t.Errorf("ensign config in the image:\n%s", out)
	}
}
