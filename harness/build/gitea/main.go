// Command gitea builds Gitea from the Go module proxy for ensign's test harness.
//
// It is a thin wrapper around code.gitea.io/gitea/cmd, kept in its own module so
// that Gitea's dependencies never enter ensign's go.mod.
package main

import (
	"os"
	"runtime"
	"time"

	"code.gitea.io/gitea/cmd"
	"code.gitea.io/gitea/modules/log"
	"code.gitea.io/gitea/modules/setting"

	// Markup renderers Gitea registers in its own main.
	_ "code.gitea.io/gitea/modules/markup/markdown"

	"github.com/urfave/cli/v3"
)

// version is set with -ldflags by the harness build script.
var version = "v1.26.0"

func main() {
	setting.AppVer = version
	setting.AppBuiltWith = " built with " + runtime.Version() + " for the ensign harness"
	setting.AppStartTime = time.Now().UTC()
	cli.OsExiter = func(code int) {
		log.GetManager().Close()
		os.Exit(code)
	}
	app := cmd.NewMainApp(cmd.AppVersion{Version: version, Extra: setting.AppBuiltWith})
	_ = cmd.RunMainApp(app, os.Args...)
	log.GetManager().Close()
}
