package main
import ("testing";"time";"procoregraph/sandbox";"procoregraph/sandbox/data")
func TestZZTiming(t *testing.T){
  _, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 20, ItemsPerProject: 20, CommitmentsPerProject: 6}, HourlyLimit: -1, SpikeLimit: -1, Faults: sandbox.Faults{Latency: sandbox.Duration(50*time.Millisecond)}})
  for _, args := range [][]string{{"-no-cache"}, {}, {"-no-cache"}, {}} {
    g := startGateway(t, env, append(args, "-max-concurrency", "100")...)
    g.query(t, `{ viewer { id } }`, nil)
    st:=time.Now(); r:=g.query(t, readQuery(t, "bench/queries/dashboard.graphql"), nil); t.Log(args, time.Since(st), r.Extensions.Procoregraph.UpstreamCalls, len(r.Errors))
    g.stop()
  }
}
