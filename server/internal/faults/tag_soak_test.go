//go:build soak

package faults_test

// soakTag is set by the soak build tag: the long fault tests and the soak run.
const soakTag = true
