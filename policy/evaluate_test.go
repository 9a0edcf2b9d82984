package policy

import (
	"strings"
	"testing"
	"time"
)

func mustWindow(t *testing.T, name string, typ WindowType, schedule string, d time.Duration, tz string) Window {
	t.Helper()
	w, err := NewWindow(name, typ, schedule, d, tz)
	if err != nil {
		t.Fatalf("NewWindow(%s): %v", name, err)
	}
	return w
}

// instant parses an RFC 3339 time; "" is the zero time.
func instant(t *testing.T, s string) time.Time {
	t.Helper()
	if s == "" {
		return time.Time{}
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return v
}

func checkInstant(t *testing.T, field string, got time.Time, want string) {
	t.Helper()
	w := instant(t, want)
	if got.IsZero() != w.IsZero() || !got.Equal(w) {
		t.Errorf("%s = %s, want %s", field, fmtInstant(got), want)
	}
}

func fmtInstant(t time.Time) string {
	if t.IsZero() {
		return `""`
	}
	return t.Format(time.RFC3339)
}

func TestEvaluate(t *testing.T) {
	const ams, nyc = "Europe/Amsterdam", "America/New_York"
	h := time.Hour
	business := mustWindow(t, "business-hours", Allow, "0 9 * * 1-5", 8*h, ams)
	nightly := mustWindow(t, "nightly", Allow, "0 22 * * *", 8*h, ams)
	gap := mustWindow(t, "early", Allow, "30 2 * * *", h, ams)
	nyBusiness := mustWindow(t, "ny-business", Allow, "0 9 * * 1-5", 8*h, nyc)
	nyOne := mustWindow(t, "ny-one", Allow, "0 1 * * *", 2*h, nyc)
	nyGap := mustWindow(t, "ny-early", Allow, "30 2 * * *", h, nyc)
	lunch := mustWindow(t, "lunch", Deny, "0 12 * * *", h, ams)
	morning := mustWindow(t, "morning", Allow, "0 10 * * 1-5", 2*h, ams)
	wednesday := mustWindow(t, "wednesday-freeze", Deny, "0 9 * * 3", 6*h, ams)
	firstWeek := mustWindow(t, "first-week", Allow, "0 0 1 * *", 168*h, ams)
	lateMarch := mustWindow(t, "late-march", Allow, "0 0 28 3 *", 168*h, ams)
	everyWeek := mustWindow(t, "every-week", Allow, "0 0 * * 1", 168*h, ams)
	everyWeekUTC := mustWindow(t, "every-week", Allow, "0 0 * * 1", 168*h, "UTC")
	leapDeny := mustWindow(t, "leap-day", Deny, "0 0 29 2 *", 24*h, "UTC")
	leapAllow := mustWindow(t, "leap-day", Allow, "0 0 29 2 *", 24*h, "UTC")
	freeze1 := mustWindow(t, "freeze-1", Deny, "0 0 20 12 *", 168*h, ams)
	freeze2 := mustWindow(t, "freeze-2", Deny, "0 0 27 12 *", 168*h, ams)

	cases := []struct {
		name               string
		windows            []Window
		now                string
		open               bool
		reason             string
		since, until, next string
	}{
		{name: "no windows", now: "2025-03-30T02:30:00Z", open: true, reason: "no windows apply"},

		// Europe/Amsterdam business hours across the spring change (Sun 30 Mar 2025 02:00 CET -> 03:00 CEST).
		{"ams friday before spring change", []Window{business}, "2025-03-28T12:00:00+01:00", true, `inside allow window "business-hours"`,
			"2025-03-28T09:00:00+01:00", "2025-03-28T17:00:00+01:00", "2025-03-31T09:00:00+02:00"},
		{"ams weekend before spring change", []Window{business}, "2025-03-29T12:00:00+01:00", false, `outside allow window "business-hours"`,
			"2025-03-28T17:00:00+01:00", "2025-03-31T09:00:00+02:00", "2025-03-31T09:00:00+02:00"},
		{"ams start instant is open", []Window{business}, "2025-03-31T09:00:00+02:00", true, "inside",
			"2025-03-31T09:00:00+02:00", "2025-03-31T17:00:00+02:00", "2025-04-01T09:00:00+02:00"},
		{"ams end instant is closed", []Window{business}, "2025-03-31T17:00:00+02:00", false, "outside",
			"2025-03-31T17:00:00+02:00", "2025-04-01T09:00:00+02:00", "2025-04-01T09:00:00+02:00"},
		// ... and across the autumn change (Sun 26 Oct 2025 03:00 CEST -> 02:00 CET).
		{"ams friday before autumn change", []Window{business}, "2025-10-24T12:00:00+02:00", true, "inside",
			"2025-10-24T09:00:00+02:00", "2025-10-24T17:00:00+02:00", "2025-10-27T09:00:00+01:00"},
		{"ams weekend of autumn change", []Window{business}, "2025-10-26T12:00:00+01:00", false, "outside",
			"2025-10-24T17:00:00+02:00", "2025-10-27T09:00:00+01:00", "2025-10-27T09:00:00+01:00"},

		// A window crossing midnight; 8h of elapsed time ends at 07:00 CEST on the
		// spring night and 05:00 CET on the autumn night.
		{"midnight crossing", []Window{nightly}, "2025-06-12T00:30:00+02:00", true, `inside allow window "nightly"`,
			"2025-06-11T22:00:00+02:00", "2025-06-12T06:00:00+02:00", "2025-06-12T22:00:00+02:00"},
		{"midnight crossing spring night", []Window{nightly}, "2025-03-30T06:30:00+02:00", true, "inside",
			"2025-03-29T22:00:00+01:00", "2025-03-30T07:00:00+02:00", "2025-03-30T22:00:00+02:00"},
		{"midnight crossing autumn night after end", []Window{nightly}, "2025-10-26T05:30:00+01:00", false, "outside",
			"2025-10-26T05:00:00+01:00", "2025-10-26T22:00:00+01:00", "2025-10-26T22:00:00+01:00"},

		// 02:30 does not exist on 30 Mar 2025 in Amsterdam: the start moves to 03:00 CEST.
		{"ams start in spring gap, before", []Window{gap}, "2025-03-29T12:00:00+01:00", false, "outside",
			"2025-03-29T03:30:00+01:00", "2025-03-30T03:00:00+02:00", "2025-03-30T03:00:00+02:00"},
		{"ams start in spring gap, during", []Window{gap}, "2025-03-30T03:30:00+02:00", true, "inside",
			"2025-03-30T03:00:00+02:00", "2025-03-30T04:00:00+02:00", "2025-03-31T02:30:00+02:00"},
		// 02:30 happens twice on 26 Oct 2025: the window starts once, at 02:30 CEST.
		{"ams repeated hour starts once", []Window{gap}, "2025-10-26T02:45:00+01:00", false, "outside",
			"2025-10-26T02:30:00+01:00", "2025-10-27T02:30:00+01:00", "2025-10-27T02:30:00+01:00"},

		// America/New_York (Sun 9 Mar 2025 02:00 EST -> 03:00 EDT; Sun 2 Nov 2025 02:00 EDT -> 01:00 EST).
		{"nyc weekend before spring change", []Window{nyBusiness}, "2025-03-07T18:00:00-05:00", false, `outside allow window "ny-business"`,
			"2025-03-07T17:00:00-05:00", "2025-03-10T09:00:00-04:00", "2025-03-10T09:00:00-04:00"},
		{"nyc friday before autumn change", []Window{nyBusiness}, "2025-10-31T10:00:00-04:00", true, "inside",
			"2025-10-31T09:00:00-04:00", "2025-10-31T17:00:00-04:00", "2025-11-03T09:00:00-05:00"},
		{"nyc start in spring gap", []Window{nyGap}, "2025-03-09T03:15:00-04:00", true, "inside",
			"2025-03-09T03:00:00-04:00", "2025-03-09T04:00:00-04:00", "2025-03-10T02:30:00-04:00"},
		// 01:00 EDT starts a 2h window ending at 02:00 EST; 01:00 EST does not start it again.
		{"nyc repeated hour starts once", []Window{nyOne}, "2025-11-02T01:30:00-05:00", true, `inside allow window "ny-one"`,
			"2025-11-02T01:00:00-04:00", "2025-11-02T02:00:00-05:00", "2025-11-03T01:00:00-05:00"},

		// Overlapping allow and deny: deny wins.
		{"allow before overlapping deny", []Window{business, lunch}, "2025-06-11T11:00:00+02:00", true, "inside",
			"2025-06-11T09:00:00+02:00", "2025-06-11T12:00:00+02:00", "2025-06-11T13:00:00+02:00"},
		{"deny inside allow", []Window{business, lunch}, "2025-06-11T12:30:00+02:00", false, `deny window "lunch" active`,
			"2025-06-11T12:00:00+02:00", "2025-06-11T13:00:00+02:00", "2025-06-11T13:00:00+02:00"},
		{"allow after deny ends", []Window{business, lunch}, "2025-06-11T13:00:00+02:00", true, "inside",
			"2025-06-11T13:00:00+02:00", "2025-06-11T17:00:00+02:00", "2025-06-12T09:00:00+02:00"},
		{"deny without allow at weekend", []Window{business, lunch}, "2025-06-14T12:30:00+02:00", false, `deny window "lunch" active`,
			"2025-06-13T17:00:00+02:00", "2025-06-16T09:00:00+02:00", "2025-06-16T09:00:00+02:00"},
		{"deny only, outside it", []Window{lunch}, "2025-06-14T15:00:00+02:00", true, "no deny window active",
			"2025-06-14T13:00:00+02:00", "2025-06-15T12:00:00+02:00", "2025-06-15T13:00:00+02:00"},

		// A deny window that covers a whole allow window skips that opening.
		{"deny covers whole allow window, before", []Window{morning, wednesday}, "2025-06-10T13:00:00+02:00", false, "outside",
			"2025-06-10T12:00:00+02:00", "2025-06-12T10:00:00+02:00", "2025-06-12T10:00:00+02:00"},
		{"deny covers whole allow window, during", []Window{morning, wednesday}, "2025-06-11T11:00:00+02:00", false, `deny window "wednesday-freeze" active`,
			"2025-06-10T12:00:00+02:00", "2025-06-12T10:00:00+02:00", "2025-06-12T10:00:00+02:00"},

		// 7-day windows.
		{"7-day window", []Window{firstWeek}, "2025-03-05T12:00:00+01:00", true, "inside",
			"2025-03-01T00:00:00+01:00", "2025-03-08T00:00:00+01:00", "2025-04-01T00:00:00+02:00"},
		{"7-day window across spring change ends 168h later", []Window{lateMarch}, "2025-04-04T00:30:00+02:00", true, "inside",
			"2025-03-28T00:00:00+01:00", "2025-04-04T01:00:00+02:00", "2026-03-28T00:00:00+01:00"},
		{"back-to-back 7-day windows never close", []Window{everyWeekUTC}, "2025-06-11T12:00:00Z", true, "inside",
			"", "", ""},
		// In Amsterdam the same window is 168h of elapsed time: in the autumn
		// week it ends at Sun 23:00 CET, an hour before the next Monday start.
		{"weekly 168h window gaps an hour in the autumn week", []Window{everyWeek}, "2025-06-11T12:00:00+02:00", true, "inside",
			"2024-10-28T00:00:00+01:00", "2025-10-26T23:00:00+01:00", "2025-10-27T00:00:00+01:00"},

		// Leap day.
		{"leap-day deny on the day", []Window{leapDeny}, "2028-02-29T12:00:00Z", false, `deny window "leap-day" active`,
			"2028-02-29T00:00:00Z", "2028-03-01T00:00:00Z", "2028-03-01T00:00:00Z"},
		{"leap-day deny years away", []Window{leapDeny}, "2025-06-01T00:00:00Z", true, "no deny window active",
			"2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z", "2028-03-01T00:00:00Z"},
		{"leap-day allow years away", []Window{leapAllow}, "2025-06-01T00:00:00Z", false, "outside",
			"2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z", "2028-02-29T00:00:00Z"},

		// Sparse yearly deny windows that chain into one freeze, with business hours.
		{"chained year-end freeze", []Window{business, freeze1, freeze2}, "2025-12-29T10:00:00+01:00", false, `deny window "freeze-2" active`,
			"2025-12-19T17:00:00+01:00", "2026-01-05T09:00:00+01:00", "2026-01-05T09:00:00+01:00"},
		{"open before year-end freeze", []Window{business, freeze1, freeze2}, "2025-12-19T10:00:00+01:00", true, "inside",
			"2025-12-19T09:00:00+01:00", "2025-12-19T17:00:00+01:00", "2026-01-05T09:00:00+01:00"},

		{"window not made by NewWindow fails closed", []Window{{Name: "hand-made", Type: Allow}}, "2025-06-01T00:00:00Z", false, `window "hand-made" is not valid`,
			"", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := Evaluate(instant(t, tc.now), tc.windows)
			if st.Open != tc.open {
				t.Errorf("Open = %v, want %v (reason %q)", st.Open, tc.open, st.Reason)
			}
			if !strings.Contains(st.Reason, tc.reason) {
				t.Errorf("Reason = %q, want it to contain %q", st.Reason, tc.reason)
			}
			checkInstant(t, "Since", st.Since, tc.since)
			checkInstant(t, "Until", st.Until, tc.until)
			checkInstant(t, "Next", st.Next, tc.next)
		})
	}
}
