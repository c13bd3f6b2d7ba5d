#!/bin/sh
# The C twin edu_c against the same /dev/eduN ABI.

. /guest/lib/edu-suite.sh
edu_suite edu_c
