//go:build tools

// Package tools pins the OpenFGA server module so `go build github.com/openfga/openfga/cmd/openfga`
// resolves against go.sum; built by tests/openfga/server.py into a cache outside the checkout.
package tools

import _ "github.com/openfga/openfga/cmd/openfga"
