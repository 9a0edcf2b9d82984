package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version and commit are set at build time:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc123" ./cmd/ensign
//
// Without ldflags, commit falls back to the VCS revision Go stamped into the
// binary, and version to "dev".
var (
	version = "dev"
	commit  = ""
)

// buildInfo is what `ensign version` prints and ensign_build_info exports.
type buildInfo struct {
	Version, Commit, GoVersion string
}

func currentBuild() buildInfo {
	b := buildInfo{Version: version, Commit: commit, GoVersion: runtime.Version()}
	if b.Commit == "" {
		b.Commit = "unknown"
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" {
					b.Commit = s.Value
				}
			}
		}
	}
	return b
}

// versionCmd is `ensign version`.
func versionCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", "usage: ensign version\n\nPrints ensign's version, commit and Go version.\n")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return badUsage(fs, stderr, "unexpected argument %q", fs.Arg(0))
	}
	b := currentBuild()
	fmt.Fprintf(stdout, "ensign %s\ncommit %s\ngo     %s\n", b.Version, b.Commit, b.GoVersion)
	return 0
}
