// Package natsserver owns the embedded nats-server: an in-process server
// with JetStream that `harmony-agent run --dev` starts on 127.0.0.1 (storing
// under the state directory) and that the tests of other packages start on a
// random port (see natstest).
//
// The server roughly doubles the binary and a device never needs it, so it
// is compiled in only under the build tag embednats (`make run`, `make
// build-dev` and the tests pass it). Without the tag, Start returns
// ErrNotCompiled and Compiled is false; the package then imports neither
// nats-server nor anything that pulls it in.
//
// natsserver is the only package of the module that imports
// github.com/nats-io/nats-server. It must not import the agent's packages
// (agent, publisher, desired, reconciler).
package natsserver
