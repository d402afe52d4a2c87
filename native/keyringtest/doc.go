// Package keyringtest holds the end-to-end tests of keyring storage: the
// `auth` binary against a real Secret Service (gnome-keyring on a D-Bus
// session bus) and a real OIDC provider, and the keyring's failure modes on
// private buses. The tests build only with -tags keyring: run them with
// scripts/test-e2e-keyring.sh (part of `make test-e2e`), which starts the
// session bus and the keyring daemon and stops them afterwards.
package keyringtest
