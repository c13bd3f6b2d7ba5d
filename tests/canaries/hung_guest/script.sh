#!/bin/sh
# Canary hung_guest: the guest script never ends.
echo "KTAP version 1"
echo "1..1"
sleep 100000
