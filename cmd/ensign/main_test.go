package main

import (
	"os"
	"testing"

	"github.com/ensignbot/ensign/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }
