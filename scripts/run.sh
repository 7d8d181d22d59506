#!/usr/bin/env bash
# `make run`: starts build/inlet on the embedded default (./data, 127.0.0.1:8080)
# and says where the dashboard is (its first page creates the first account).
set -eu
cd "$(dirname "$0")/.."
data=${INLET_DATA_DIR:-./data}
listen=${INLET_LISTEN:-127.0.0.1:8080}
cat <<TXT

  Inlet is starting on http://$listen  (data in $data)

  The dashboard:  http://$listen/
  On the first start it offers to create your account; then create an
  endpoint there and paste its HTML snippet into your page.

  Or from a terminal, the first account and an API key:
    printf '%s' 'choose-a-long-password' | build/inlet init --data $data --email you@example.com --password-stdin
    build/inlet keys create --data $data --account <account id printed above> --name cli

  Then create an endpoint and post to it:
    curl -s -H "Authorization: Bearer <key>" -H 'Content-Type: application/json' \\
         -d '{"name":"Contact"}' http://$listen/api/v1/endpoints
    curl -s -H 'Accept: application/json' -d 'email=a@b.example&message=hi' http://$listen/f/<endpoint key>

  Stop with Ctrl-C.

TXT
exec build/inlet serve --listen "$listen" --data "$data"
