package leader

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func TestHeldByOther(t *testing.T) {
	seen := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	spec := func(holder string, secs int32) coordinationv1.LeaseSpec {
		return coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs}
	}
	for _, tc := range []struct {
		name string
		spec coordinationv1.LeaseSpec
		now  time.Time
		want bool
	}{
		{"another holder, seen just now", spec("b@10.0.0.2:8080", 15), seen.Add(time.Second), true},
		{"another holder, a moment before its duration ends", spec("b", 15), seen.Add(15*time.Second - time.Millisecond), true},
		{"another holder, unchanged for its duration", spec("b", 15), seen.Add(15 * time.Second), false},
		{"its own duration counts, not ours", spec("b", 60), seen.Add(30 * time.Second), true},
		{"released (no holder, one second)", spec("", 1), seen, false},
		{"no holder field", coordinationv1.LeaseSpec{}, seen, false},
		{"held by me", spec("a@10.0.0.1:8080", 15), seen, false},
		{"same name, other address: another replica", spec("a@10.0.0.9:8080", 15), seen, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := heldByOther(tc.spec, "a@10.0.0.1:8080", seen, tc.now); got != tc.want {
				t.Fatalf("heldByOther = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClaim(t *testing.T) {
	then := metav1.NewMicroTime(time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC))
	now := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name            string
		old             coordinationv1.LeaseSpec
		wantAcquire     time.Time
		wantTransitions int32
	}{
		{"renewal keeps acquire time and transitions",
			coordinationv1.LeaseSpec{HolderIdentity: ptr("me"), AcquireTime: &then, LeaseTransitions: ptr(int32(3))}, then.Time, 3},
		{"taking over from another counts a transition",
			coordinationv1.LeaseSpec{HolderIdentity: ptr("other"), AcquireTime: &then, LeaseTransitions: ptr(int32(3))}, now, 4},
		{"taking a released Lease counts one too, as client-go does",
			coordinationv1.LeaseSpec{HolderIdentity: ptr(""), AcquireTime: &then, LeaseTransitions: ptr(int32(3))}, now, 4},
		{"a record without transitions",
			coordinationv1.LeaseSpec{HolderIdentity: ptr("other")}, now, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := claim(tc.old, "me", 14500*time.Millisecond, now) // recorded as 15 s: rounded up
			if *got.HolderIdentity != "me" || *got.LeaseDurationSeconds != 15 || !got.RenewTime.Time.Equal(now) {
				t.Fatalf("claim = holder %q, %ds, renewed %v; want me, 15s, %v", *got.HolderIdentity, *got.LeaseDurationSeconds, got.RenewTime, now)
			}
			if !got.AcquireTime.Time.Equal(tc.wantAcquire) || *got.LeaseTransitions != tc.wantTransitions {
				t.Fatalf("acquired %v with %d transitions, want %v with %d", got.AcquireTime.Time, *got.LeaseTransitions, tc.wantAcquire, tc.wantTransitions)
			}
		})
	}
}

func TestCheckDurations(t *testing.T) {
	for _, tc := range []struct {
		lease, renew, retry time.Duration
		ok                  bool
	}{
		{15 * time.Second, 10 * time.Second, 2 * time.Second, true},
		{10 * time.Second, 10 * time.Second, 2 * time.Second, false},
		{15 * time.Second, 10 * time.Second, 9 * time.Second, false},
		{15 * time.Second, 12 * time.Second, 10 * time.Second, false}, // 12s is not more than 1.2 x 10s
		{15 * time.Second, 10 * time.Second, 0, false},
		{900 * time.Millisecond, 600 * time.Millisecond, 100 * time.Millisecond, false},
	} {
		if err := checkDurations(tc.lease, tc.renew, tc.retry); (err == nil) != tc.ok {
			t.Errorf("checkDurations(%v, %v, %v) = %v, want ok=%v", tc.lease, tc.renew, tc.retry, err, tc.ok)
		}
	}
}
