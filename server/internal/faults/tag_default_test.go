//go:build !soak

package faults_test

// soakTag is set by the soak build tag.
const soakTag = false
