package portal

import (
	"testing"
	"time"

	"procoregraph/sandbox"
)

// BenchmarkLogin measures one whole CreateSession (a browser login against
// the sandbox portal plus the encrypted store write) per iteration, with the
// shared, already running browser, and reports the resident memory of the
// browser's process tree (sum of VmRSS, and of PSS) before and after.
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
			time.Sleep(time.Second) // let a fresh browser finish starting its helpers
			idle, err := br.Memory()
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
				if mem, err := br.Memory(); err == nil && mem.RSS > peak.RSS {
					peak = mem
				}
			}
			after, err := br.Memory()
			if err != nil {
				b.Fatal(err)
			}
			const mib = 1 << 20
			b.ReportMetric(float64(idle.RSS)/mib, "idle-RSS-MiB")
			b.ReportMetric(float64(idle.PSS)/mib, "idle-PSS-MiB")
			b.ReportMetric(float64(peak.RSS)/mib, "peak-RSS-MiB")
			b.ReportMetric(float64(after.RSS)/mib, "after-RSS-MiB")
			b.ReportMetric(float64(after.PSS)/mib, "after-PSS-MiB")
			b.ReportMetric(float64(after.Processes), "processes")
			b.ReportMetric(float64(logins.Milliseconds())/float64(b.N), "ms/login")
		})
	}
}
