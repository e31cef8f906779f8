# Sourced by .ci/run and scripts/up (Debian-like machine, as root): install Debian's docker.io and
# busybox-static (the local images are built from it) where missing, and start dockerd in the background
# if no engine answers. Sets DOCKERD_PID when it started the engine, so the caller can stop it.
DOCKERD_PID=""
if ! command -v dockerd >/dev/null 2>&1 || ! [ -x /bin/busybox ]; then
    echo "installing docker.io and busybox-static (apt-get)..."
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
    echo "starting dockerd (log: /tmp/dockerd.log)..."
    dockerd > /tmp/dockerd.log 2>&1 &
    DOCKERD_PID=$!
    _deadline=$((SECONDS + 60))
    until docker info >/dev/null 2>&1; do
        if (( SECONDS > _deadline )); then
            echo "dockerd did not start within 60 s:"; tail -20 /tmp/dockerd.log; return 1 2>/dev/null || exit 1
        fi
        sleep 0.5
    done
fi
