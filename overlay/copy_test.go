package overlay

import (
	"errors"
	"maps"
	"path"
	"reflect"
	"strings"
	"testing"
)

var overlays = map[string]string{
	"apps/staging/kustomization.yaml":      "resources: [deploy.yaml]\nimages: [{name: app, newTag: v2}]\n",
	"apps/staging/deploy.yaml":             "kind: Deployment # v2\n",
	"apps/staging/config/app.env":          "LOG=debug\n",
	"apps/staging/patches/replicas.yml":    "replicas: 1\n",
	"apps/production/kustomization.yaml":   "resources: [deploy.yaml]\nimages: [{name: app, newTag: v1}]\n",
	"apps/production/deploy.yaml":          "kind: Deployment # v1\n",
	"apps/production/old.yaml":             "gone: soon\n",
	"apps/production/patches/replicas.yml": "replicas: 5\n",
	"apps/production/patches/hpa.yml":      "max: 10\n",
	"apps/productionx/keep.yaml":           "not: inside production\n",
}

func TestSyncDir(t *testing.T) {
	tests := []struct {
		name    string
		exclude []string
		want    []string // changes
		files   map[string]string
	}{
		{
			name: "mirror",
			want: []string{
				"added apps/production/config/app.env",
				"modified apps/production/deploy.yaml",
				"modified apps/production/kustomization.yaml",
				"removed apps/production/old.yaml",
				"removed apps/production/patches/hpa.yml",
				"modified apps/production/patches/replicas.yml",
			},
			files: map[string]string{
				"apps/production/kustomization.yaml":   overlays["apps/staging/kustomization.yaml"],
				"apps/production/deploy.yaml":          overlays["apps/staging/deploy.yaml"],
				"apps/production/config/app.env":       overlays["apps/staging/config/app.env"],
				"apps/production/patches/replicas.yml": overlays["apps/staging/patches/replicas.yml"],
			},
		},
		{
			name:    "target keeps excluded files",
			exclude: []string{"kustomization.yaml", "patches/**"},
			want: []string{
				"added apps/production/config/app.env",
				"modified apps/production/deploy.yaml",
				"removed apps/production/old.yaml",
			},
			files: map[string]string{
				"apps/production/kustomization.yaml":   overlays["apps/production/kustomization.yaml"],
				"apps/production/deploy.yaml":          overlays["apps/staging/deploy.yaml"],
				"apps/production/config/app.env":       overlays["apps/staging/config/app.env"],
				"apps/production/patches/replicas.yml": overlays["apps/production/patches/replicas.yml"],
				"apps/production/patches/hpa.yml":      overlays["apps/production/patches/hpa.yml"],
			},
		},
		{
			name:    "glob on base name at any depth",
			exclude: []string{"*.env", "patches/*.yml"},
			want: []string{
				"modified apps/production/deploy.yaml",
				"modified apps/production/kustomization.yaml",
				"removed apps/production/old.yaml",
			},
			files: map[string]string{
				"apps/production/kustomization.yaml":   overlays["apps/staging/kustomization.yaml"],
				"apps/production/deploy.yaml":          overlays["apps/staging/deploy.yaml"],
				"apps/production/patches/replicas.yml": overlays["apps/production/patches/replicas.yml"],
				"apps/production/patches/hpa.yml":      overlays["apps/production/patches/hpa.yml"],
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := newMemTree(overlays)
			changes, err := SyncDir(tree, tree, "apps/staging", "apps/production", tt.exclude)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range changes {
				got = append(got, c.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("changes:\n got %q\nwant %q", got, tt.want)
			}
			prod := map[string]string{}
			for p, d := range tree.files {
				if strings.HasPrefix(p, "apps/production/") {
					prod[p] = d
				}
			}
			if !maps.Equal(prod, tt.files) {
				t.Errorf("production files:\n got %v\nwant %v", prod, tt.files)
			}
			// Nothing outside the target moves.
			for p, d := range overlays {
				if !strings.HasPrefix(p, "apps/production/") && tree.files[p] != d {
					t.Errorf("%s changed", p)
				}
			}
			// A second sync is a no-op.
			again, err := SyncDir(tree, tree, "apps/staging", "apps/production", tt.exclude)
			if err != nil || len(again) != 0 {
				t.Errorf("second sync = %v, %v; want no changes", again, err)
			}
		})
	}
}

func TestSyncDirNewTarget(t *testing.T) {
	src := newMemTree(map[string]string{"a/x.yaml": "x\n", "a/sub/y.yaml": "y\n"})
	dst := newMemTree(map[string]string{"other/z": "z"})
	changes, err := SyncDir(src, dst, "a", "b/c", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []FileChange{{"b/c/sub/y.yaml", FileAdded}, {"b/c/x.yaml", FileAdded}}
	if !reflect.DeepEqual(changes, want) {
		t.Fatalf("changes = %v, want %v", changes, want)
	}
	if dst.files["b/c/x.yaml"] != "x\n" || dst.files["b/c/sub/y.yaml"] != "y\n" || dst.files["other/z"] != "z" {
		t.Fatalf("target tree = %v", dst.files)
	}
}

func TestCopyFiles(t *testing.T) {
	tree := newMemTree(overlays)
	changes, err := CopyFiles(tree, tree, "apps/staging", "apps/production", []string{"deploy.yaml", "config/app.env", "deploy.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	want := []FileChange{{"apps/production/config/app.env", FileAdded}, {"apps/production/deploy.yaml", FileModified}}
	if !reflect.DeepEqual(changes, want) {
		t.Fatalf("changes = %v, want %v", changes, want)
	}
	if tree.files["apps/production/old.yaml"] == "" || tree.files["apps/production/kustomization.yaml"] != overlays["apps/production/kustomization.yaml"] {
		t.Fatal("CopyFiles touched a file it was not asked to copy")
	}
	again, err := CopyFiles(tree, tree, "apps/staging", "apps/production", []string{"deploy.yaml"})
	if err != nil || len(again) != 0 {
		t.Fatalf("repeat copy = %v, %v; want no changes", again, err)
	}
}

func TestCopyErrors(t *testing.T) {
	tests := []struct {
		name     string
		run      func(tr *memTree) ([]FileChange, error)
		sentinel error
		msg      string
	}{
		{"dotdot file", func(tr *memTree) ([]FileChange, error) {
			return CopyFiles(tr, tr, "apps/staging", "apps/production", []string{"../staging/deploy.yaml"})
		}, ErrInvalid, "leaves the tree"},
		{"unclean file", func(tr *memTree) ([]FileChange, error) {
			return CopyFiles(tr, tr, "apps/staging", "apps/production", []string{"./deploy.yaml"})
		}, ErrInvalid, "not clean"},
		{"escaping file", func(tr *memTree) ([]FileChange, error) {
			return CopyFiles(tr, tr, "apps/staging", "apps/production", []string{"../../etc/passwd"})
		}, ErrInvalid, "leaves the tree"},
		{"absolute dir", func(tr *memTree) ([]FileChange, error) {
			return SyncDir(tr, tr, "/apps/staging", "apps/production", nil)
		}, ErrInvalid, "is absolute"},
		{"into .git", func(tr *memTree) ([]FileChange, error) {
			return SyncDir(tr, tr, "apps/staging", ".git/hooks", nil)
		}, ErrInvalid, "enters .git"},
		{"overlapping dirs", func(tr *memTree) ([]FileChange, error) {
			return SyncDir(tr, tr, "apps", "apps/production", nil)
		}, ErrInvalid, "overlap"},
		{"same dir", func(tr *memTree) ([]FileChange, error) {
			return SyncDir(tr, tr, "apps/staging", "apps/staging", nil)
		}, ErrInvalid, "overlap"},
		{"root as target", func(tr *memTree) ([]FileChange, error) {
			return SyncDir(tr, tr, "apps/staging", ".", nil)
		}, ErrInvalid, "overlap"},
		{"missing listed file", func(tr *memTree) ([]FileChange, error) {
			return CopyFiles(tr, tr, "apps/staging", "apps/production", []string{"deploy.yaml", "nope.yaml"})
		}, ErrNotFound, "apps/staging/nope.yaml"},
		{"missing source dir", func(tr *memTree) ([]FileChange, error) {
			return SyncDir(tr, tr, "apps/nope", "apps/production", nil)
		}, ErrNotFound, "apps/nope"},
		{"bad pattern", func(tr *memTree) ([]FileChange, error) {
			return SyncDir(tr, tr, "apps/staging", "apps/production", []string{"[x"})
		}, ErrInvalid, "bad exclude pattern"},
		{"backslash", func(tr *memTree) ([]FileChange, error) {
			return CopyFiles(tr, tr, "apps/staging", "apps/production", []string{`a\b`})
		}, ErrInvalid, "backslash"},
		{"symlink listed", func(tr *memTree) ([]FileChange, error) {
			tr.links = map[string]bool{"apps/staging/deploy.yaml": true}
			return CopyFiles(tr, tr, "apps/staging", "apps/production", []string{"deploy.yaml"})
		}, ErrSymlink, "apps/staging/deploy.yaml"},
		{"symlink in the source dir", func(tr *memTree) ([]FileChange, error) {
			tr.links = map[string]bool{"apps/staging/config/app.env": true}
			return SyncDir(tr, tr, "apps/staging", "apps/production", nil)
		}, ErrSymlink, "apps/staging/config/app.env"},
		{"symlink in the target", func(tr *memTree) ([]FileChange, error) {
			tr.links = map[string]bool{"apps/production/deploy.yaml": true}
			return SyncDir(tr, tr, "apps/staging", "apps/production", nil)
		}, ErrSymlink, "apps/production/deploy.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := newMemTree(overlays)
			changes, err := tt.run(tree)
			if !errors.Is(err, tt.sentinel) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error = %v, want %v containing %q", err, tt.sentinel, tt.msg)
			}
			if len(changes) != 0 || !maps.Equal(tree.files, overlays) {
				t.Fatalf("failed copy changed the tree: %v", changes)
			}
		})
	}
}

func TestCopyWriteFailure(t *testing.T) {
	tree := newMemTree(overlays)
	tree.failWrite = "apps/production/kustomization.yaml"
	_, err := SyncDir(tree, tree, "apps/staging", "apps/production", nil)
	var oe *Error
	if !errors.As(err, &oe) || oe.File != "apps/production/kustomization.yaml" || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error = %v, want a write error naming the file", err)
	}
}

func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"apps/prod", "../x", "/etc", "a//b", "a/./b", ".git/config", "a/.GIT", ".", "", `a\b`, "a/b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := CleanPath(p)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("CleanPath(%q) error %v does not wrap ErrInvalid", p, err)
			}
			return
		}
		if got == "." {
			if p != "" && p != "." {
				t.Fatalf("CleanPath(%q) = root", p)
			}
			return
		}
		if got != p || path.IsAbs(got) || path.Clean(got) != got || strings.Contains(got, "\\") {
			t.Fatalf("CleanPath(%q) = %q accepted", p, got)
		}
		for _, el := range strings.Split(got, "/") {
			if el == ".." || el == "." || el == "" || strings.EqualFold(el, ".git") {
				t.Fatalf("CleanPath(%q) accepted element %q", p, el)
			}
		}
	})
}
