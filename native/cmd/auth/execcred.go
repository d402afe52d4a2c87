package main

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/dualauth/dualauth/core"
)

// The ExecCredential API versions of kubectl's exec credential plugins
// (k8s.io/client-go/pkg/apis/clientauthentication).
const (
	execCredentialV1      = "client.authentication.k8s.io/v1"
	execCredentialV1beta1 = "client.authentication.k8s.io/v1beta1"
)

// execCredentialVersion is the apiVersion to answer kubectl in: the one
// named by KUBERNETES_EXEC_INFO (kubectl sets it to the kubeconfig's
// exec.apiVersion), v1 when the variable is absent.
func execCredentialVersion(info string) (string, error) {
	if strings.TrimSpace(info) == "" {
		return execCredentialV1, nil
	}
	var in struct {
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal([]byte(info), &in); err != nil {
		return "", usagef("KUBERNETES_EXEC_INFO is not the JSON kubectl sets: %v", err)
	}
	switch in.APIVersion {
	case execCredentialV1, execCredentialV1beta1:
		return in.APIVersion, nil
	case "":
		return execCredentialV1, nil
	}
	return "", usagef("KUBERNETES_EXEC_INFO asks for apiVersion %q: auth answers %s or %s; set one of them as exec.apiVersion in the kubeconfig", core.Sanitize(in.APIVersion), execCredentialV1, execCredentialV1beta1)
}

// execCredential is the ExecCredential kubectl reads from the plugin's
// stdout: the token and, when known, its expiry in RFC 3339 (kubectl runs
// the plugin again after it). Written out rather than marshalled from a
// struct, as `auth token`'s JSON is: this is the hot path.
func execCredential(apiVersion string, e *core.Entry) string {
	var b strings.Builder
	b.WriteString(`{"kind":"ExecCredential","apiVersion":` + jsonString(apiVersion) + `,"spec":{"interactive":false},"status":{`)
	if !e.Expiry.IsZero() {
		b.WriteString(`"expirationTimestamp":` + jsonString(e.Expiry.UTC().Format(time.RFC3339)) + `,`)
	}
	b.WriteString(`"token":` + jsonString(e.AccessToken) + "}}\n")
	return b.String()
}
