//go:build !unix

package limits

// defaultDescriptors stands in for a descriptor limit on systems without
// RLIMIT_NOFILE.
const defaultDescriptors = 8192

// DescriptorLimit returns a fixed budget where there is no RLIMIT_NOFILE.
func DescriptorLimit() (int, error) { return defaultDescriptors, nil }
