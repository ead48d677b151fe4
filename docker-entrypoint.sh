#!/bin/sh
# The image's entrypoint (README: "Docker"): on the first start write a config for the container's
# folders (listen on every interface of the container on 8080, database in /data, media in /media;
# PRIVTUBE_HOST and PRIVTUBE_PORT change the address, for `--network host`),
# then run the command (by default `privtube serve`) as PID 1, so `docker stop`'s SIGTERM reaches it.
set -eu
config="${PRIVTUBE_CONFIG:-/config/config.ini}"
here="$(dirname "$0")"
if [ ! -e "$config" ]; then
    python3 "$here/privtube.py" init "$config" >/dev/null
    sed -i -e "s|^# host = 127.0.0.1\$|host = ${PRIVTUBE_HOST:-0.0.0.0}|" \
           -e "s|^# port = 8080\$|port = ${PRIVTUBE_PORT:-8080}|" \
           -e "s|^# media_dir = media\$|media_dir = ${PRIVTUBE_MEDIA:-/media}|" \
           -e "s|^# database = privtube.db\$|database = ${PRIVTUBE_DATA:-/data}/privtube.db|" "$config"
    echo "privtube: wrote $config (edit it, then restart the container)" >&2
fi
exec "$@"
