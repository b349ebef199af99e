package portal

import (
	"testing"
	"time"

	"procoregraph/sandbox"
)

// BenchmarkLogin measures one whole CreateSession (a browser login against
// the sandbox portal plus the encrypted store write) per iteration, with the
// shared, already running browser, and reports the resident memory of the
// browser's process tree before and after the logins.
//
//	go test ./adapter/portal -run '^$' -bench BenchmarkLogin -benchtime 20x
func BenchmarkLogin(b *testing.B) {
	br := needBrowser(b)
	cases := []struct {
		name string
		cfg  sandbox.Config
		mfa  MFA
	}{
		{"NoMFA", sandbox.Config{DemoMFA: "none"}, MFA{}},
		{"TOTP", sandbox.Config{}, totpMFA()},
		{"EmailCode", sandbox.Config{DemoMFA: "email"}, MFA{Method: MFAEmail}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnv(b, tc.cfg)
			m := newManager(b, e, memStore(b), nil)
			ctx := ctxFor(b, 10*time.Minute)
			if err := br.Start(ctx); err != nil {
				b.Fatal(err)
			}
			idle, err := br.RSS()
			if err != nil {
				b.Fatal(err)
			}
			peak := idle
			var logins time.Duration
			for b.Loop() {
				// Each TOTP login gets a fresh step, one second into it, so
				// no iteration waits for a code.
				now := e.clock.Now()
				next := now.Truncate(totpPeriod).Add(totpPeriod + time.Second)
				e.clock.Advance(next.Sub(now))
				start := time.Now()
				if _, err := m.CreateSession(ctx, e.demoLogin(tc.mfa)); err != nil {
					b.Fatal(err)
				}
				logins += time.Since(start)
				if rss, err := br.RSS(); err == nil && rss > peak {
					peak = rss
				}
			}
			after, err := br.RSS()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(idle)/(1<<20), "idle-browser-MiB")
			b.ReportMetric(float64(peak)/(1<<20), "peak-browser-MiB")
			b.ReportMetric(float64(after)/(1<<20), "after-browser-MiB")
			b.ReportMetric(float64(logins.Milliseconds())/float64(b.N), "ms/login")
		})
	}
}
