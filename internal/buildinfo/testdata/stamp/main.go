// Command stamp prints the build stamp after buildinfo.FillVersion, for
// buildinfo's tests.
package main

import (
	"fmt"

	"github.com/prometheus/common/version"

	"github.com/smtp-exporter/smtp_exporter/internal/buildinfo"
)

func main() {
	buildinfo.FillVersion()
	fmt.Println(version.Info(), version.BuildDate)
}
