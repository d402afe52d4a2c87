// Package databrickssdk tests auth as the token source of the real
// Databricks Go SDK (auth_type = databricks-cli): a module of its own, so
// that the product's go.mod does not carry the SDK. `make test-databricks-sdk`
// (called by `make test`) runs it, as root: it maps a workspace name to
// 127.0.0.1 in a mount namespace of its own.
package databrickssdk
