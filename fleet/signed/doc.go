// Package signed signs and verifies harmony-agent's signed desired values
// (ARCHITECTURE 3.8): a DSSE v1 envelope of payload type
// application/vnd.harmony.desired+json whose payload is a Statement (the
// device, the deployment, a generation and the DeploymentSpec), signed with
// ed25519 by NATS account nkeys (public "A...", seed "SA..."), each
// signature's keyid being the signer's public key.
//
// Sign makes a value; Verify checks one against a set of trusted public keys
// and the key it was read from, each refusal with the reason ARCHITECTURE
// names and a sentinel for errors.Is. Keeping the highest generation
// accepted per deployment is the agent's (internal/trust): this package
// holds no state.
//
// signed imports the standard library, fleet and github.com/nats-io/nkeys
// only: an operator that signs values compiles none of nats.go, zap or
// viper.
package signed
