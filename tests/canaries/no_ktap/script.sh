#!/bin/sh
# Canary no_ktap: the guest script dies before it prints any KTAP.
echo "no_ktap: sh: syntax error: unexpected end of file"
exit 2
