//go:build embednats

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
	"github.com/harmony-edge/harmony-agent/internal/runtime/podman"
)

// BenchmarkPodman starts a busybox container (`sleep 3600`, no network,
// an init process) on the private podman of scripts/podman/env.sh
// (HARMONY_PODMAN_SOCKET, HARMONY_TEST_IMAGE, CONTAINERS_CONF,
// CONTAINERS_STORAGE_CONF), two ways; one op is one container, run it with
// -benchtime=5x. Metrics: p50-ms, p99-ms, max-ms. Target: agent p50 <=
// 1.2x podman-run's.
//
//   - agent: the in-process agent with the podman runtime on that socket:
//     from the desired-state put to the `running` event stored.
//   - podman-run: `podman run -d --network none --init IMAGE sleep 3600`
//     with the same image and storage, until the command returns.
//
// Each container is removed after its op, off the clock; one untimed
// container first warms each path up. Without the environment the
// benchmark is skipped.
func BenchmarkPodman(b *testing.B) {
	socket, image := os.Getenv("HARMONY_PODMAN_SOCKET"), os.Getenv("HARMONY_TEST_IMAGE")
	if socket == "" || image == "" {
		b.Skip(`HARMONY_PODMAN_SOCKET and HARMONY_TEST_IMAGE are not set: run, as root, eval "$(scripts/podman/env.sh /tmp/harmony-podman-bench)" first (make bench does)`)
	}
	suffix := randomSuffix()
	env := startNATS(b)
	spec := fmt.Appendf(nil, `{"runtime":"podman","image":%q,"command":["sleep","3600"]}`, image)

	b.Run("agent", func(b *testing.B) {
		device := fleet.DeviceID("bench-" + suffix)
		rt, err := podman.New(podman.Config{Socket: socket, Network: "none", Init: true})
		if err != nil {
			b.Fatalf("podman.New(%s): %v", socket, err)
		}
		defer rt.Close()
		events := readEvents(b, env.js, fleet.DeviceEventsSubject(device))
		stop := startAgent(b, env.url, device, map[fleet.RuntimeKind]runtime.Runtime{fleet.RuntimePodman: rt})
		defer stop()
		start := func(name fleet.DeploymentName) time.Duration {
			t0 := time.Now()
			env.put(b, device, name, spec)
			return waitEvent(b, events, name, fleet.PhaseRunning).stored.Sub(t0)
		}
		remove := func(name fleet.DeploymentName) {
			env.del(b, device, name)
			waitEvent(b, events, name, "")
		}
		start(deployment(0))
		remove(deployment(0))
		var lat latencies
		for i := 1; b.Loop(); i++ {
			lat = append(lat, start(deployment(i)))
			b.StopTimer()
			remove(deployment(i))
			b.StartTimer()
		}
		lat.report(b)
	})

	b.Run("podman-run", func(b *testing.B) {
		run := func(name string) time.Duration {
			t0 := time.Now()
			cmd := exec.Command("podman", "run", "-d", "--network", "none", "--init", "--name", name, image, "sleep", "3600")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%s: %v\n%s", cmd, err, out)
			}
			return time.Since(t0)
		}
		remove := func(name string) {
			cmd := exec.Command("podman", "rm", "-f", "-t", "0", name)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%s: %v\n%s", cmd, err, out)
			}
		}
		name := func(i int) string { return fmt.Sprintf("bench-plain-%s-%d", suffix, i) }
		run(name(0))
		remove(name(0))
		var lat latencies
		for i := 1; b.Loop(); i++ {
			lat = append(lat, run(name(i)))
			b.StopTimer()
			remove(name(i))
			b.StartTimer()
		}
		lat.report(b)
	})
}

// randomSuffix keeps the names of two runs apart.
func randomSuffix() string {
	var buf [4]byte
	_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(buf[:])
}
