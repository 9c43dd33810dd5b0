#!/bin/sh
# Stores a value in the Redis the runner started; its port comes from the environment.
set -eu
redis-cli -p "$TESTRIUM_REDIS_PORT_REDIS" SET greeting "hello through redis" > /dev/null
testrium emit value-stored --type Send --key greeting
