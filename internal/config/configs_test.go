package config

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The configuration files shipped from configs/.
const (
	shippedConfig = "../../configs/agent.yaml"
	devConfig     = "../../configs/dev.yaml"
)

// commentedKey matches a commented-out key line such as "  # creds_file: /x"
// or "#   site: lyon", keeping its indentation.
var commentedKey = regexp.MustCompile(`(?m)^(\s*)# (\s*[a-z][a-z0-9_]*:(?: .*)?)$`)

// The example config ships as /etc/harmony-agent/agent.yaml: it must pass
// check-config as is, and what it sets must be the defaults, but for the
// device's name, its creds file, and runtime.process.default_user:
// harmony-app, the user the .deb creates.
func TestShippedConfigIsValid(t *testing.T) {
	clearEnv(t)
	got, err := Load(shippedConfig)
	if err != nil {
		t.Fatalf("Load(%q) = %v, want nil error", shippedConfig, err)
	}
	want := Default()
	want.DeviceID = "my-device"
	want.NATS.CredsFile = "/etc/harmony-agent/device.creds" // the .deb expects it (issue 11)
	want.Runtime.Process.DefaultUser = "harmony-app"        // the user the .deb creates
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(%q) = %+v, want the defaults %+v", shippedConfig, got, want)
	}
}

// Every key is documented in the example config, live or commented out, and
// nothing that is not a key is: uncommenting every commented-out key line
// must give a file that has every known key and no unknown one.
func TestShippedConfigDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(shippedConfig)
	if err != nil {
		t.Fatalf("ReadFile(%q) = %v", shippedConfig, err)
	}
	uncommented := commentedKey.ReplaceAll(data, []byte("$1$2"))
	root, err := parseFile(uncommented)
	if err != nil {
		t.Fatalf("parse %s with its keys uncommented: %v\n%s", shippedConfig, err, uncommented)
	}
	if errs := checkKeys(root, ""); len(errs) > 0 {
		t.Errorf("%s documents keys that do not exist: %v", shippedConfig, errs)
	}
	var present []string
	var walk func(node *yaml.Node, prefix string)
	walk = func(node *yaml.Node, prefix string) {
		for i := 0; i+1 < len(node.Content); i += 2 {
			key := prefix + node.Content[i].Value
			present = append(present, key)
			if key != labelsKey && node.Content[i+1].Kind == yaml.MappingNode {
				walk(node.Content[i+1], key+".")
			}
		}
	}
	walk(root, "")
	for _, key := range knownKeys() {
		if !slices.Contains(present, key) {
			t.Errorf("%s does not document %s", shippedConfig, key)
		}
	}
}

// make run uses configs/dev.yaml with HARMONY_AGENT_STATE_DIR set.
func TestDevConfig(t *testing.T) {
	clearEnv(t)
	stateDir := t.TempDir()
	t.Setenv("HARMONY_AGENT_STATE_DIR", stateDir)
	got, err := Load(devConfig)
	if err != nil {
		t.Fatalf("Load(%q) = %v, want nil error", devConfig, err)
	}
	want := Default()
	want.DeviceID = "dev-device"
	want.Labels = map[string]string{"site": "dev"}
	want.StateDir = stateDir
	want.NATS.Embedded = true
	want.Runtime.Podman.Socket = "" // make run needs no podman
	want.Reconcile.ResyncInterval = 10 * time.Second
	want.Log.Format = "console"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(%q) = %+v, want %+v", devConfig, got, want)
	}
}
