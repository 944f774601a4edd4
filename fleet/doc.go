// Package fleet is harmony-agent's wire contract: the identifiers, the
// desired-state spec, the StateChangeEvent and DeviceInfo the agent
// publishes, and the names of the NATS buckets, stream and subjects they
// travel on. Agents and central-side programs both import it.
//
// Every type round-trips through JSON with snake_case names, and decoding
// validates: a malformed payload is rejected with an error that names the
// field and the rule. Event and DeviceInfo decoders ignore unknown fields
// (forward compatibility); DeploymentSpec rejects them (a typo in desired
// state must fail loudly), through DecodeSpec and json.Unmarshal alike.
//
// fleet imports the standard library only.
package fleet
