package schedule

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ensignbot/ensign/policy"
)

// testPolicy: production opens 09:00-17:00 UTC on weekdays with a deny from
// 12:00 to 13:00; staging follows business hours only.
const testPolicy = `apiVersion: ensign.dev/v1alpha1
windows:
  - {name: business-hours, type: allow, schedule: "0 9 * * 1-5", duration: 8h}
  - {name: lunch, type: deny, schedule: "0 12 * * *", duration: 1h}
apps:
  - name: podinfo
    stages:
      - name: staging
        overlay: apps/podinfo/staging
        canary: {namespace: staging}
        windows: [business-hours]
      - name: production
        overlay: apps/podinfo/production
        canary: {namespace: production}
        windows: [business-hours, lunch]
`

func load(t *testing.T, doc string) *policy.Policy {
	t.Helper()
	p, err := policy.Load("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// utc builds a UTC time in June 2025: 9 is a Monday, 14 a Saturday.
func utc(day, hour, min int) time.Time { return time.Date(2025, 6, day, hour, min, 0, 0, time.UTC) }

// fakeMerger records calls; each call runs fn (if set) with the call index.
type fakeMerger struct {
	calls   chan time.Time
	fn      func(ctx context.Context, i int) error
	n       atomic.Int32
	running atomic.Int32
	overlap atomic.Bool
}

func newFakeMerger() *fakeMerger { return &fakeMerger{calls: make(chan time.Time, 100)} }

func (m *fakeMerger) MergeQueued(ctx context.Context, now time.Time) error {
	if m.running.Add(1) > 1 {
		m.overlap.Store(true)
	}
	defer m.running.Add(-1)
	i := int(m.n.Add(1)) - 1
	m.calls <- now
	if m.fn != nil {
		return m.fn(ctx, i)
	}
	return nil
}

// source serves a policy that the test may swap.
type source struct {
	mu    sync.Mutex
	p     *policy.Policy
	err   error
	reads chan struct{} // one value per read, dropped when full
}

func (s *source) get(context.Context) (*policy.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.reads <- struct{}{}:
	default:
	}
	return s.p, s.err
}

func (s *source) set(p *policy.Policy, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.p, s.err = p, err
}

type harness struct {
	t      *testing.T
	clock  *ManualClock
	merger *fakeMerger
	src    *source
	sched  *Scheduler
	logs   *syncBuffer
	opts   Options
}

func start(t *testing.T, now time.Time, doc string, tweak func(*harness)) *harness {
	t.Helper()
	h := &harness{t: t, clock: NewManualClock(now), merger: newFakeMerger(), src: &source{p: load(t, doc), reads: make(chan struct{}, 1)}, logs: &syncBuffer{}}
	// Most tests look at openings only; a week-long recheck keeps policy
	// re-reads out of their way.
	h.opts.Recheck = 7 * 24 * time.Hour
	if tweak != nil {
		tweak(h)
	}
	h.opts.Clock = h.clock
	h.opts.Logger = slog.New(slog.NewTextHandler(h.logs, nil))
	h.sched = New(h.src.get, h.merger, h.opts)
	if err := h.sched.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.sched.Stop)
	return h
}

// settle waits until the scheduler has gone back to sleep.
func (h *harness) settle() {
	h.t.Helper()
	done := make(chan struct{})
	go func() { h.clock.BlockUntil(1); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // deadlock guard
		h.t.Fatal("scheduler did not go back to sleep")
	}
}

// expectMerge waits for the next MergeQueued call and checks its instant.
func (h *harness) expectMerge(want time.Time) {
	h.t.Helper()
	select {
	case got := <-h.merger.calls:
		if !got.Equal(want) {
			h.t.Fatalf("MergeQueued(now=%s), want now=%s", got, want)
		}
	case <-time.After(10 * time.Second): // deadlock guard, not a wait for a window
		h.t.Fatalf("no MergeQueued call, want one at %s", want)
	}
}

// expectNoMerge checks, once the scheduler sleeps again, that it did not merge.
func (h *harness) expectNoMerge() {
	h.t.Helper()
	h.settle()
	select {
	case got := <-h.merger.calls:
		h.t.Fatalf("unexpected MergeQueued(now=%s)", got)
	default:
	}
}

// expectWake checks when the scheduler will wake next.
func (h *harness) expectWake(want time.Time) {
	h.t.Helper()
	h.settle()
	if at, ok := h.clock.NextTimer(); !ok || !at.Equal(want) {
		h.t.Fatalf("next wake-up at %s (pending %v), want %s", at, ok, want)
	}
}

func TestStartupClosedWaitsForOpening(t *testing.T) {
	h := start(t, utc(14, 10, 0), testPolicy, nil) // Saturday
	h.expectNoMerge()
	h.expectWake(utc(16, 9, 0)) // Monday 09:00
	h.clock.Set(utc(16, 9, 0))
	h.expectMerge(utc(16, 9, 0))
	// Production closes for lunch at 12:00 and reopens at 13:00.
	h.expectWake(utc(16, 13, 0))
	h.clock.Set(utc(16, 13, 0))
	h.expectMerge(utc(16, 13, 0))
	h.expectWake(utc(17, 9, 0))
}

func TestStartupOpenMergesAtOnce(t *testing.T) {
	// A window that opened before the process started.
	h := start(t, utc(16, 10, 30), testPolicy, nil)
	h.expectMerge(utc(16, 10, 30))
	h.expectWake(utc(16, 13, 0))
}

func TestRecheckWhenNoOpeningSoon(t *testing.T) {
	doc := strings.Replace(testPolicy, `"0 9 * * 1-5"`, `"0 9 24 12 *"`, 1) // once a year
	h := start(t, utc(16, 10, 0), doc, func(h *harness) { h.opts.Recheck = 0 })
	h.expectNoMerge()
	h.expectWake(utc(16, 10, 15)) // default Recheck 15m: re-read the policy
	h.clock.Set(utc(16, 10, 15))
	h.expectNoMerge()
	h.expectWake(utc(16, 10, 30))
}

func TestMergeErrorRetriesWithBackoff(t *testing.T) {
	h := start(t, utc(16, 9, 0), testPolicy, func(h *harness) {
		h.merger.fn = func(_ context.Context, i int) error {
			if i < 2 {
				return errors.New("gitea unavailable")
			}
			return nil
		}
	})
	h.expectMerge(utc(16, 9, 0))
	h.expectWake(utc(16, 9, 0).Add(30 * time.Second))
	h.clock.Set(utc(16, 9, 0).Add(30 * time.Second))
	h.expectMerge(utc(16, 9, 0).Add(30 * time.Second))
	h.expectWake(utc(16, 9, 1).Add(30 * time.Second)) // doubled: 60s later
	h.clock.Set(utc(16, 9, 1).Add(30 * time.Second))
	h.expectMerge(utc(16, 9, 1).Add(30 * time.Second))
	h.expectWake(utc(16, 13, 0)) // success: back to openings
	if !strings.Contains(h.logs.String(), "gitea unavailable") {
		t.Errorf("merge error not logged:\n%s", h.logs)
	}
}

func TestRetryDroppedWhenClosed(t *testing.T) {
	h := start(t, utc(16, 11, 59), testPolicy, func(h *harness) {
		h.merger.fn = func(context.Context, int) error { return errors.New("boom") }
	})
	h.expectMerge(utc(16, 11, 59))
	h.expectWake(utc(16, 11, 59).Add(30 * time.Second))
	h.clock.Set(utc(16, 12, 0).Add(29 * time.Second)) // lunch deny: production closed, staging open
	h.expectMerge(utc(16, 12, 0).Add(29 * time.Second))
}

func TestPanicInMergerIsRecovered(t *testing.T) {
	h := start(t, utc(16, 9, 0), testPolicy, func(h *harness) {
		h.merger.fn = func(_ context.Context, i int) error {
			if i == 0 {
				panic("nil map")
			}
			return nil
		}
	})
	h.expectMerge(utc(16, 9, 0))
	h.expectWake(utc(16, 9, 0).Add(30 * time.Second))
	h.clock.Set(utc(16, 9, 0).Add(30 * time.Second))
	h.expectMerge(utc(16, 9, 0).Add(30 * time.Second))
	if !strings.Contains(h.logs.String(), "merger panicked: nil map") {
		t.Errorf("panic not logged:\n%s", h.logs)
	}
}

func TestPanicInPolicySourceIsRecovered(t *testing.T) {
	calls := 0
	h := &harness{t: t, clock: NewManualClock(utc(16, 10, 0)), merger: newFakeMerger(), logs: &syncBuffer{}}
	p := load(t, testPolicy)
	var mu sync.Mutex
	src := func(context.Context) (*policy.Policy, error) {
		mu.Lock()
		defer mu.Unlock()
		if calls++; calls == 1 {
			panic("bad policy cache")
		}
		return p, nil
	}
	h.sched = New(src, h.merger, Options{Clock: h.clock, Logger: slog.New(slog.NewTextHandler(h.logs, nil))})
	if err := h.sched.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.sched.Stop)
	h.expectNoMerge()
	h.expectWake(utc(16, 10, 0).Add(30 * time.Second))
	h.clock.Set(utc(16, 10, 0).Add(30 * time.Second))
	h.expectMerge(utc(16, 10, 0).Add(30 * time.Second)) // the start-up run, once the policy reads
	if !strings.Contains(h.logs.String(), "policy source panicked") {
		t.Errorf("panic not logged:\n%s", h.logs)
	}
}

func TestOpeningDuringLongRunIsCoalesced(t *testing.T) {
	release := make(chan struct{})
	h := start(t, utc(16, 11, 0), testPolicy, func(h *harness) {
		h.merger.fn = func(ctx context.Context, i int) error {
			if i == 0 {
				<-release // still running when lunch ends at 13:00
			}
			return nil
		}
	})
	h.expectMerge(utc(16, 11, 0))
	h.clock.Set(utc(16, 13, 5)) // no timer is pending: the loop is inside the merge
	close(release)
	h.expectMerge(utc(16, 13, 5)) // one catch-up run for the 13:00 opening
	h.expectNoMerge()
	h.expectWake(utc(17, 9, 0))
	if h.merger.overlap.Load() {
		t.Error("merge runs overlapped")
	}
}

func TestRecheckAtFiringUsesCurrentPolicy(t *testing.T) {
	h := start(t, utc(14, 10, 0), testPolicy, nil)
	h.expectWake(utc(16, 9, 0))
	// The policy changes in Git: a Monday-morning freeze until 11:00.
	frozen := strings.NewReplacer(
		"windows:\n", "windows:\n  - {name: monday-freeze, type: deny, schedule: \"0 9 * * 1\", duration: 2h}\n",
		"windows: [business-hours]", "windows: [business-hours, monday-freeze]",
		"windows: [business-hours, lunch]", "windows: [business-hours, lunch, monday-freeze]",
	).Replace(testPolicy)
	h.src.set(load(t, frozen), nil)
	h.clock.Set(utc(16, 9, 0))
	h.expectNoMerge() // fired for 09:00 but re-checked: nothing opened
	h.expectWake(utc(16, 11, 0))
	h.clock.Set(utc(16, 11, 0))
	h.expectMerge(utc(16, 11, 0))
}

func TestKickReplans(t *testing.T) {
	h := start(t, utc(14, 10, 0), testPolicy, nil)
	h.expectWake(utc(16, 9, 0))
	h.src.set(load(t, strings.Replace(testPolicy, `"0 9 * * 1-5"`, `"0 12 * * 6"`, 1)), nil) // Saturdays 12:00
	select {
	case <-h.src.reads: // drain the read made before the Kick
	default:
	}
	h.sched.Kick()
	select {
	case <-h.src.reads: // the Kick stopped the old timer and re-read the policy
	case <-time.After(10 * time.Second):
		t.Fatal("Kick did not re-read the policy")
	}
	h.expectWake(utc(14, 12, 0))
	h.clock.Set(utc(14, 12, 0))
	// Staging opens at 12:00 (the lunch deny only holds production back).
	h.expectMerge(utc(14, 12, 0))
}

func TestPolicyErrorRetries(t *testing.T) {
	h := start(t, utc(16, 10, 0), testPolicy, func(h *harness) {
		h.src.err = errors.New("policy invalid: windows[0].duration: required")
	})
	h.expectNoMerge()
	h.expectWake(utc(16, 10, 0).Add(30 * time.Second))
	h.src.set(load(t, testPolicy), nil)
	h.clock.Set(utc(16, 10, 0).Add(30 * time.Second))
	h.expectMerge(utc(16, 10, 0).Add(30 * time.Second))
}

func TestStopWaitsForRunningMerge(t *testing.T) {
	entered := make(chan struct{})
	var sawCancel atomic.Bool
	h := start(t, utc(16, 10, 0), testPolicy, func(h *harness) {
		h.merger.fn = func(ctx context.Context, _ int) error {
			close(entered)
			<-ctx.Done()
			sawCancel.Store(true)
			return ctx.Err()
		}
	})
	<-entered
	stopped := make(chan struct{})
	go func() { h.sched.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return")
	}
	if !sawCancel.Load() {
		t.Error("Stop returned before the merge finished")
	}
	h.sched.Stop() // idempotent
	if err := h.sched.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
	New(nil, nil, Options{}).Stop() // Stop before Start
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// OnChange fires at start-up and at every instant a window opens or
// closes, not only at openings.
func TestOnChangeAtEveryOpeningAndClosing(t *testing.T) {
	changes := make(chan time.Time, 100)
	h := start(t, utc(16, 10, 0), testPolicy, func(h *harness) {
		h.opts.OnChange = func(_ context.Context, now time.Time) { changes <- now }
	})
	expect := func(want time.Time) {
		t.Helper()
		select {
		case got := <-changes:
			if !got.Equal(want) {
				t.Fatalf("OnChange(now=%s), want now=%s", got, want)
			}
		case <-time.After(10 * time.Second): // deadlock guard
			t.Fatalf("no OnChange call, want one at %s", want)
		}
	}
	expect(utc(16, 10, 0)) // start-up
	h.expectMerge(utc(16, 10, 0))
	for _, at := range []time.Time{utc(16, 12, 0), utc(16, 13, 0), utc(16, 17, 0)} { // lunch closes, reopens, evening closes
		h.expectWake(at)
		h.clock.Set(at)
		expect(at)
	}
	h.expectMerge(utc(16, 13, 0))
	h.expectWake(utc(17, 9, 0))
}

// MergeNow merges at once while a stage is open, without an opening.
func TestMergeNowMergesWhileOpen(t *testing.T) {
	h := start(t, utc(16, 10, 0), testPolicy, nil)
	h.expectMerge(utc(16, 10, 0))
	h.expectNoMerge()
	h.clock.Set(utc(16, 10, 30))
	h.sched.MergeNow()
	h.expectMerge(utc(16, 10, 30))
	h.clock.Set(utc(16, 20, 0)) // Monday 20:00: closed
	h.sched.MergeNow()
	h.expectNoMerge()
}

// A freeze written into the policy closes its stage at once (OnChange, so
// the gate fails open pull requests); lifting it opens the stage at once
// (a merge run and OnChange), not at the next window opening.
func TestFreezeAndUnfreezeReplan(t *testing.T) {
	changes := make(chan time.Time, 100)
	h := start(t, utc(16, 10, 0), testPolicy, func(h *harness) {
		h.opts.OnChange = func(_ context.Context, now time.Time) { changes <- now }
	})
	<-changes // start-up
	h.expectMerge(utc(16, 10, 0))
	kick := func(doc string, at time.Time) {
		t.Helper()
		h.settle()
		h.clock.Set(at)
		h.src.set(load(t, doc), nil)
		h.sched.Kick()
		select {
		case got := <-changes:
			if !got.Equal(at) {
				t.Fatalf("OnChange(now=%s), want now=%s", got, at)
			}
		case <-time.After(10 * time.Second): // deadlock guard
			t.Fatalf("no OnChange call at %s", at)
		}
	}
	frozen := testPolicy + `freezes:
  - stage: production
    from: "2025-06-16T10:05:00Z"
    until: "2025-06-17T10:05:00Z"
    reason: incident
`
	kick(frozen, utc(16, 10, 5))
	h.expectNoMerge() // closing opens nothing
	kick(testPolicy, utc(16, 10, 10))
	h.expectMerge(utc(16, 10, 10))
}
