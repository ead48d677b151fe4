# privtube node image (README: "Docker"). Build with Debian's client and BuildKit:
#   DOCKER_BUILDKIT=1 docker build --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt -t privtube .
# The secret is the CA bundle pip trusts (a company proxy's CA); it is mounted for the pip step only and
# never stored in a layer. Without a proxy, build with no --secret at all.
FROM debian:bookworm-slim

# HTTP_PROXY, HTTPS_PROXY and NO_PROXY given with --build-arg reach apt and pip without being declared
# here, and docker keeps them out of the image's history. PIP_INDEX_URL (a mirror of PyPI, when there is
# one) is shown by `docker history`: never put a password in it.
ARG PIP_INDEX_URL

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ffmpeg ca-certificates \
 && apt-get clean && rm -rf /var/lib/apt/lists/*

# A fixed uid, 1000 by default (the first user of a Raspberry Pi or a desktop), so a media folder of
# the host's first user is writable as it is (README: "Docker").
ARG PRIVTUBE_UID=1000
RUN groupadd --system --gid "$PRIVTUBE_UID" privtube \
 && useradd --system --uid "$PRIVTUBE_UID" --gid privtube --no-create-home --home-dir /data \
            --shell /usr/sbin/nologin privtube \
 && mkdir -p /config /data /media \
 && chown privtube:privtube /config /data /media

WORKDIR /opt/privtube
COPY requirements.txt ./
# The CA bundle secret, when given, is pip's PIP_CERT for this step alone; a build without it checks
# with the image's own bundle (ca-certificates: Debian's pip trusts the system's).
RUN --mount=type=secret,id=pip_ca \
    python3 -m venv .venv \
 && if [ -f /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi \
 && if [ -z "${PIP_INDEX_URL:-}" ]; then unset PIP_INDEX_URL; fi \
 && .venv/bin/python -m pip install --no-cache-dir -q --disable-pip-version-check -r requirements.txt
COPY . .
RUN printf '#!/bin/sh\nexec /opt/privtube/.venv/bin/python /opt/privtube/privtube.py "$@"\n' > /usr/local/bin/privtube \
 && chmod 755 /usr/local/bin/privtube docker-entrypoint.sh

ENV PRIVTUBE_CONFIG=/config/config.ini PATH=/opt/privtube/.venv/bin:$PATH PYTHONUNBUFFERED=1
VOLUME ["/config", "/data", "/media"]
EXPOSE 8080
USER privtube
# The health check asks /healthz on the port the config names (the entrypoint wrote it on the first start).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import os, sys, urllib.request; sys.path.insert(0, '/opt/privtube'); import privtube_config; port = privtube_config.load(os.environ['PRIVTUBE_CONFIG']).get('server', 'port'); sys.exit(urllib.request.urlopen('http://127.0.0.1:%d/healthz' % port, timeout=4).status != 200)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/privtube/docker-entrypoint.sh"]
CMD ["privtube", "serve"]
