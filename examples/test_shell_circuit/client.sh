#!/bin/sh
set -eu
testrium emit request-sent --type Send --key "$REQUEST_ID"
testrium wait response-sent --unit server --timeout 10
testrium emit response-received --type Receive --key "resp-001"
echo "client: got the response"
