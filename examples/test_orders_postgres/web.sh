#!/bin/sh
# nginx in the foreground on port $1, proxying /api/ to the api unit on port $2. Its
# configuration and temporary files live in the attempt's run folder.
set -eu
dir="$TESTRIUM_RUN_DIR/nginx"
mkdir -p "$dir"
cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  server {
    listen 127.0.0.1:$1;
    location = /health { return 200 "ok"; }
    location /api/ { proxy_pass http://127.0.0.1:$2/; }
  }
}
CONF
exec nginx -c "$dir/nginx.conf" -g "daemon off;"
