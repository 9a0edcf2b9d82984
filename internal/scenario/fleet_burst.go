package scenario

import (
	"context"
	"fmt"
	"strings"
)

// PrepareFailures is PrepareFailure for many apps at once: a person pushes
// one hotfix commit per app (in one push) and Flux applies each. It returns
// the hotfix commits, in the apps' order.
func (f *Fleet) PrepareFailures(ctx context.Context, apps []FleetApp, tag string) ([]string, error) {
	commits := make([]fleetCommit, len(apps))
	for i, a := range apps {
		commits[i] = fleetCommit{
			msg:   "Hotfix " + a.Name + " " + tag + " straight to production",
			files: map[string]string{a.Production.Overlay + "/kustomization.yaml": fleetOverlay(a.Production, tag)},
		}
	}
	shas, err := f.commitEach(ctx, f.Dev, commits)
	if err != nil {
		return nil, err
	}
	return shas, parallel(len(apps), 8, func(i int) error {
		return f.setImage(ctx, apps[i].Production.Namespace, apps[i].Name, Image+":"+tag)
	})
}

// PrepareSuccesses is PrepareSuccess for many apps at once: CI releases tag
// to each app's staging overlay (one commit per app, one push) and Flux and
// Flagger take it to the target and the primary.
func (f *Fleet) PrepareSuccesses(ctx context.Context, apps []FleetApp, tag string) error {
	commits := make([]fleetCommit, len(apps))
	for i, a := range apps {
		commits[i] = fleetCommit{
			msg:   "Release " + a.Name + " " + tag + " to staging",
			files: map[string]string{a.Staging.Overlay + "/kustomization.yaml": fleetOverlay(a.Staging, tag)},
		}
	}
	if _, err := f.commitEach(ctx, f.CI, commits); err != nil {
		return err
	}
	return parallel(len(apps), 8, func(i int) error {
		a := apps[i]
		for _, d := range []string{a.Name, a.Name + "-primary"} {
			if err := f.setImage(ctx, a.Staging.Namespace, d, Image+":"+tag); err != nil {
				return fmt.Errorf("%s: %w", a.Name, err)
			}
		}
		return nil
	})
}

// EachFinal ends the analysis of every app in apps at once, on width
// writers: Failed in production (fail) or Succeeded in staging, and calls
// sent with each app's index once its phase is written.
func (f *Fleet) EachFinal(ctx context.Context, apps []FleetApp, fail bool, width int, sent func(i int)) error {
	return parallel(len(apps), width, func(i int) error {
		var err error
		if fail {
			err = f.Fail(ctx, apps[i])
		} else {
			err = f.Succeed(ctx, apps[i])
		}
		if err == nil && sent != nil {
			sent(i)
		}
		return err
	})
}

// Busy pushes n commits that change none of the apps (a changelog line
// each, in one push), as the other teams of a busy repository do.
func (f *Fleet) Busy(ctx context.Context, n int) error {
	commits := make([]fleetCommit, n)
	var log strings.Builder
	for i := range commits {
		fmt.Fprintf(&log, "- change %d\n", i)
		commits[i] = fleetCommit{msg: fmt.Sprintf("Changelog entry %d", i), files: map[string]string{"docs/CHANGELOG.md": log.String()}}
	}
	_, err := f.commitEach(ctx, f.Dev, commits)
	return err
}
