#!/bin/sh
# The Rust edu driver against the /dev/eduN ABI.

. /guest/lib/edu-suite.sh
edu_suite edu
