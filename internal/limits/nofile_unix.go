//go:build unix

package limits

import (
	"fmt"
	"math"
	"syscall"
)

// DescriptorLimit returns the soft RLIMIT_NOFILE, which Go raises to the
// hard limit at start-up.
func DescriptorLimit() (int, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	return int(min(rl.Cur, math.MaxInt32)), nil
}
