package faults

import (
	"context"
	"fmt"
	"time"
)

// The Gitea cases: Gitea killed and started again, frozen, cut off by a
// partition. Each runs the same story around its fault: a burst of results
// fired just before it (in flight when it starts), another during it, and
// comment commands before and, where Gitea can take them, during it.

// fault is how a Gitea case breaks and mends Gitea.
type fault struct {
	what   string
	inject func(ctx context.Context, r *rig) error
	// heal ends the fault and returns once Gitea answers ensign again.
	heal func(ctx context.Context, r *rig) error
	// commandsDuring: people can still comment (Gitea itself runs).
	commandsDuring bool
}

func giteaKill(ctx context.Context, s *servers, o Options, row *Row) error {
	return giteaCase(ctx, s, o, row, "gitea-kill", fault{
		what:   fmt.Sprintf("Gitea SIGKILLed, started again after %v (same port and data)", o.Outage),
		inject: func(ctx context.Context, r *rig) error { r.gitea.Kill(); return nil },
		heal:   func(ctx context.Context, r *rig) error { return r.gitea.StartAgain(ctx) },
	})
}

func giteaFreeze(ctx context.Context, s *servers, o Options, row *Row) error {
	return giteaCase(ctx, s, o, row, "gitea-freeze", fault{
		what:   fmt.Sprintf("Gitea frozen (SIGSTOP) for %v, then SIGCONT", o.Outage),
		inject: func(ctx context.Context, r *rig) error { return r.gitea.Pause() },
		heal:   func(ctx context.Context, r *rig) error { return r.gitea.Resume() },
	})
}

func partition(ctx context.Context, s *servers, o Options, row *Row) error {
	return giteaCase(ctx, s, o, row, "partition", fault{
		what:           fmt.Sprintf("network partition between ensign and Gitea for %v (proxy holds every byte, closes nothing)", o.Outage),
		inject:         func(ctx context.Context, r *rig) error { r.proxy.SetMode(Partition); return nil },
		heal:           func(ctx context.Context, r *rig) error { r.proxy.SetMode(Forward); return nil },
		commandsDuring: true,
	})
}

func giteaCase(ctx context.Context, s *servers, o Options, row *Row, name string, f fault) error {
	row.Fault = f.what
	r, _, err := s.openRig(ctx, name, 1)
	if err != nil {
		return err
	}
	defer r.close()
	fl := r.fleets[0]
	pr, err := r.commandPR(ctx, fl)
	if err != nil {
		return err
	}
	return repeat(ctx, r, o, row, func() error { return giteaFault(ctx, r, o, row, f, pr) })
}

// giteaFault plays one round of a Gitea case: a burst fired just before
// the fault, another during it, and waits until Git is right after it.
func giteaFault(ctx context.Context, r *rig, o Options, row *Row, f fault, pr int64) error {
	fl := r.fleets[0]
	before, during, err := r.prepareRound(ctx, fl)
	if err != nil {
		return err
	}
	if err := r.command(ctx, fl, pr, "/status"); err != nil {
		return err
	}
	if err := r.fire(ctx, before); err != nil {
		return err
	}
	r.say("fault: %s", f.what)
	if err := f.inject(ctx, r); err != nil {
		return err
	}
	start := time.Now()
	healed := false
	defer func() {
		if !healed {
			_ = f.heal(context.WithoutCancel(ctx), r)
		}
	}()
	sleep(ctx, time.Second)
	if err := r.fire(ctx, during); err != nil {
		return err
	}
	if f.commandsDuring {
		if err := r.command(ctx, fl, pr, "/status"); err != nil {
			return err
		}
	}
	sleep(ctx, o.Outage-time.Since(start))
	if err := f.heal(ctx, r); err != nil {
		return err
	}
	healed = true
	end := time.Now()
	r.say("fault over after %v", end.Sub(start).Round(100*time.Millisecond))
	return recovered(ctx, r, row, end)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
